"""The distance matrix RPCs (SearchMatrixPairs, SearchMatrixOffsets) on the embedded engine.

A random sample of the points that match the filter (and have the vector), sorted by
id, and for each of them its `limit` nearest neighbours among the other sampled points.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.dispatch import rpc
from adapters.embedded.filters import to_edge_filter
from adapters.embedded.queries import at_least_one, optional
from adapters.embedded.results import elapsed
from proxy.errors import InvalidArgument
from proxy.values import python_to_point_id

if TYPE_CHECKING:
    from adapters.embedded.catalog import Catalog

DEFAULT_MATRIX_SAMPLE = 10
DEFAULT_MATRIX_LIMIT = 3


def _matrix(
    catalog: Catalog, req: ppb.SearchMatrixPoints
) -> tuple[list[Any], list[list[qe.ScoredPoint]]]:
    """Sampled ids (sorted) and, for each, its nearest other samples."""
    collection = catalog.get(req.collection_name)
    sample = req.sample if req.HasField("sample") else DEFAULT_MATRIX_SAMPLE
    limit = at_least_one(req.limit if req.HasField("limit") else DEFAULT_MATRIX_LIMIT, "limit")
    if sample < 2:
        raise InvalidArgument(f"sample value {sample} is invalid. Must be 2 or larger.")
    using = req.using if req.HasField("using") else ""
    user_filter = to_edge_filter(optional(req, "filter"))
    with_vector = qe.HasVectorCondition(using)
    sample_filter = qe.Filter(must=[with_vector, *([user_filter] if user_filter else [])])
    samples = collection.shard.query(
        qe.QueryRequest(
            limit=sample, query=qe.Sample.Random, filter=sample_filter, with_vector=[using]
        )
    )
    if len(samples) < 2:
        return [], []
    samples.sort(key=lambda p: _id_order(p.id))
    ids = [p.id for p in samples]
    requests = [
        qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(_sample_vector(p.vector, using), using),
            filter=qe.Filter(
                must=[
                    qe.HasIdCondition({i for i in ids if i != p.id}),
                    *([user_filter] if user_filter else []),
                ]
            ),
        )
        for p in samples
    ]
    return ids, collection.shard.query_batch(qe.QueryBatchRequest(requests))


def _id_order(point_id: Any) -> tuple[int, int | str]:
    """Qdrant's id order: every integer id before every UUID."""
    return (0, point_id) if isinstance(point_id, int) else (1, str(point_id))


def _sample_vector(vector: Any, using: str) -> Any:
    """The `using` vector of a sampled point."""
    return vector[using] if isinstance(vector, dict) else vector


@rpc("/qdrant.Points/SearchMatrixPairs")
def search_matrix_pairs(
    catalog: Catalog, req: ppb.SearchMatrixPoints
) -> ppb.SearchMatrixPairsResponse:
    """Sampled points and their nearest sampled neighbours, as (a, b, score) pairs."""
    start = time.perf_counter()
    ids, rows = _matrix(catalog, req)
    response = ppb.SearchMatrixPairsResponse()
    response.result.SetInParent()
    for point_id, row in zip(ids, rows, strict=True):
        for hit in row:
            pair = response.result.pairs.add()
            python_to_point_id(point_id, pair.a)
            python_to_point_id(hit.id, pair.b)
            pair.score = hit.score
    response.time = elapsed(start)
    return response


@rpc("/qdrant.Points/SearchMatrixOffsets")
def search_matrix_offsets(
    catalog: Catalog, req: ppb.SearchMatrixPoints
) -> ppb.SearchMatrixOffsetsResponse:
    """The same matrix as offsets into the sorted list of sampled ids."""
    start = time.perf_counter()
    ids, rows = _matrix(catalog, req)
    response = ppb.SearchMatrixOffsetsResponse()
    result = response.result
    result.SetInParent()
    position = {point_id: i for i, point_id in enumerate(ids)}
    for row_index, row in enumerate(rows):
        for hit in row:
            result.offsets_row.append(row_index)
            result.offsets_col.append(position[hit.id])
            result.scores.append(hit.score)
    for point_id in ids:
        python_to_point_id(point_id, result.ids.add())
    response.time = elapsed(start)
    return response
