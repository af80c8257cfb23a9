"""The Qdrant requests every bench path sends: a batch upsert and a top-10 query."""

from __future__ import annotations

import numpy as np
from qdrant_client.grpc import points_pb2 as ppb


def upsert_request(
    collection: str, vectors: np.ndarray, rows: range, tags: tuple[str, str] | None = None
) -> ppb.UpsertPoints:
    """Points `rows` of `vectors`, payload `{"n": id}`; with `tags`, also the two payload
    entries vecgate's Tag filter writes (`embedding_model`, `embedding_version`)."""
    request = ppb.UpsertPoints(collection_name=collection, wait=True)
    for n in rows:
        point = request.points.add()
        point.id.num = n
        point.vectors.vector.dense.data.extend(vectors[n].tolist())
        point.payload["n"].integer_value = n
        if tags is not None:
            point.payload["embedding_model"].string_value = tags[0]
            point.payload["embedding_version"].string_value = tags[1]
    return request


def query_request(collection: str, vector: np.ndarray) -> ppb.QueryPoints:
    """Top-10 nearest neighbours of `vector`, payload returned."""
    request = ppb.QueryPoints(
        collection_name=collection, limit=10, with_payload=ppb.WithPayloadSelector(enable=True)
    )
    request.query.nearest.dense.data.extend(vector.tolist())
    return request
