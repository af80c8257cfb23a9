"""Vector search on Milvus: Search, SearchBatch, Query (nearest, recommend), QueryBatch,
Recommend.

Exact (FLAT) search with the collection's metric; scores as Qdrant reports them
(Euclid: Milvus's squared L2 distance → its square root). Offset and score threshold
are applied to the ranked hits (asking Milvus for offset + limit), which gives the
same points as Qdrant because hits come best first. Recommend uses Qdrant's
average_vector rule (2 * mean(positive) - mean(negative)) over the stored vectors of
the example ids, which are left out of the answer. Prefetch, fusion, discovery,
context, order_by, formula, sample, MMR and the best_score / sum_scores strategies
answer UNIMPLEMENTED naming the construct.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qdrant_client.grpc import points_pb2 as ppb

from adapters.milvus.connection import Connection
from adapters.milvus.dispatch import rpc
from adapters.milvus.filters import combine, to_expression
from adapters.milvus.ids import PK, pk_list, pk_of, write_point_id
from adapters.milvus.rows import by_keys
from adapters.milvus.schema import PAYLOAD, CollectionSpec, VectorField
from adapters.milvus.vectors import (
    dense,
    fill_vectors,
    payload_selector,
    prepared,
    select_payload,
    vector_selector,
)
from proxy.errors import InvalidArgument, NotFound, Unimplemented
from proxy.values import python_to_payload

_BACKEND = "on the Milvus backend"
DEFAULT_LIMIT = 10
#: Milvus answers at most this many hits per search (offset + limit).
MAX_TOPK = 16384
_STRATEGIES = {0: "average_vector", 1: "best_score", 2: "sum_scores"}


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _opt(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


@dataclass(slots=True)
class Search:
    """One nearest-neighbour search as Milvus runs it."""

    target: VectorField
    vector: np.ndarray
    expression: str
    limit: int
    offset: int
    threshold: float | None
    include: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)
    payload: bool = False
    vectors: list[str] = field(default_factory=list)


def _search(
    spec: CollectionSpec,
    request: Any,
    *,
    using: str,
    vector: np.ndarray,
    flt: Any,
    limit: int,
    excluded: list[str] | None = None,
) -> Search:
    vector_field = spec.vector(using)
    vector = prepared(vector_field, vector, "the query vector")
    if limit < 1:
        raise InvalidArgument("Wrong input: limit must be at least 1")
    offset = int(_opt(request, "offset") or 0)
    if offset + limit > MAX_TOPK:
        raise InvalidArgument(
            f"Wrong input: offset + limit is {offset + limit}; Milvus answers at most "
            f"{MAX_TOPK} hits per search"
        )
    expression = to_expression(flt, spec)
    if excluded:
        expression = combine(expression, f"not ({PK} in {pk_list(excluded)})")
    payload, include, exclude = payload_selector(_opt(request, "with_payload"))
    return Search(
        target=vector_field,
        vector=vector,
        expression=expression,
        limit=limit,
        offset=offset,
        threshold=_opt(request, "score_threshold"),
        include=include,
        exclude=exclude,
        payload=payload,
        vectors=vector_selector(spec, _opt(request, "with_vectors")),
    )


async def run(conn: Connection, spec: CollectionSpec, search: Search, out: Any) -> None:
    """Run a search; append its hits (Qdrant scores, offset and threshold applied) to `out`."""
    vectors = [(name, spec.vector(name).field) for name in search.vectors]
    output = ((PAYLOAD,) if search.payload else ()) + tuple(field for _, field in vectors)
    hits = await conn.call(
        "Search",
        conn.fast.search,
        spec.name,
        vector=search.vector,
        field=search.target.field,
        metric=search.target.metric,
        expression=search.expression,
        limit=search.offset + search.limit,
        output_fields=output,
        consistency=conn.consistency,
    )
    euclid = search.target.metric == "L2"
    threshold = search.threshold
    keys, scores = hits.keys, hits.scores
    for i in range(search.offset, len(keys)):
        score = math.sqrt(max(scores[i], 0.0)) if euclid else scores[i]
        if threshold is not None and (score > threshold if euclid else score < threshold):
            break
        point = out.add()
        write_point_id(keys[i], point.id)
        if search.payload:
            payload = hits.value(PAYLOAD, i)
            if payload:
                python_to_payload(
                    select_payload(payload, search.include, search.exclude), point.payload
                )
        if vectors:
            row = {field: hits.value(field, i) for _, field in vectors}
            fill_vectors(spec, search.vectors, row, point.vectors)
        point.score = score


# ----------------------------------------------------------------------------- Search


def _check_search(request: ppb.SearchPoints) -> None:
    if request.HasField("sparse_indices"):
        raise Unimplemented(f"sparse vectors are not supported {_BACKEND}")


@rpc("/qdrant.Points/Search")
async def search_rpc(conn: Connection, request: ppb.SearchPoints) -> Any:
    """Nearest neighbours of a raw vector."""
    start = time.perf_counter()
    response = ppb.SearchResponse()
    await _search_one(conn, request, response.result)
    response.time = _elapsed(start)
    return response


async def _search_one(conn: Connection, request: ppb.SearchPoints, out: Any) -> None:
    _check_search(request)
    spec = await conn.spec(request.collection_name)
    vector = np.asarray(request.vector, dtype=np.float32)
    flt = request.filter if request.HasField("filter") else None
    using = request.vector_name if request.HasField("vector_name") else ""
    search = _search(spec, request, using=using, vector=vector, flt=flt, limit=request.limit)
    await run(conn, spec, search, out)


@rpc("/qdrant.Points/SearchBatch")
async def search_batch(conn: Connection, request: ppb.SearchBatchPoints) -> Any:
    """Each search of the batch, in order."""
    start = time.perf_counter()
    response = ppb.SearchBatchResponse()
    for item in request.search_points:
        await _search_one(conn, item, response.result.add().result)
    response.time = _elapsed(start)
    return response


# ----------------------------------------------------------------------------- recommend


async def _stored(
    conn: Connection, spec: CollectionSpec, field: VectorField, ids: list[Any]
) -> list[np.ndarray]:
    pks = [pk_of(i) for i in ids]
    rows = await by_keys(conn, spec, pks, [PK, field.field])
    vectors = []
    for point_id, pk in zip(ids, pks, strict=True):
        row = rows.get(pk)
        if row is None:
            shown = point_id.num if point_id.HasField("num") else point_id.uuid
            raise NotFound(f"Not found: No point with id {shown} found")
        vectors.append(np.asarray(row[field.field], dtype=np.float32))
    return vectors


def _average_vector(positive: list[np.ndarray], negative: list[np.ndarray]) -> np.ndarray:
    if not positive:
        raise InvalidArgument(
            "Wrong input: the average_vector strategy needs at least one positive example"
        )
    avg_positive: np.ndarray = np.mean(positive, axis=0)
    if not negative:
        return avg_positive
    avg_negative: np.ndarray = np.mean(negative, axis=0)
    merged: np.ndarray = avg_positive + avg_positive - avg_negative
    return merged


async def _recommend_vector(
    conn: Connection,
    spec: CollectionSpec,
    *,
    using: str,
    positive: list[Any],
    negative: list[Any],
    strategy: int | None,
) -> tuple[np.ndarray, list[str]]:
    """The search vector of a recommendation and the example ids to leave out."""
    if strategy not in (None, 0):
        raise Unimplemented(
            f"recommend strategy `{_STRATEGIES.get(strategy or 0, strategy)}` is not supported "
            f"{_BACKEND}; use average_vector"
        )
    vector_field = spec.vector(using)
    excluded: list[str] = []
    resolved: list[list[np.ndarray]] = []
    for examples in (positive, negative):
        ids = [e for e in examples if not isinstance(e, np.ndarray)]
        raws = [e for e in examples if isinstance(e, np.ndarray)]
        excluded += [pk_of(i) for i in ids]
        stored = await _stored(conn, spec, vector_field, ids)
        resolved.append(stored + [prepared(vector_field, r, "an example vector") for r in raws])
    return _average_vector(resolved[0], resolved[1]), excluded


@rpc("/qdrant.Points/Recommend")
async def recommend_rpc(conn: Connection, request: ppb.RecommendPoints) -> Any:
    """Recommend (average_vector) by example ids and vectors."""
    start = time.perf_counter()
    response = ppb.RecommendResponse()
    await _recommend_one(conn, request, response.result)
    response.time = _elapsed(start)
    return response


async def _recommend_one(conn: Connection, request: ppb.RecommendPoints, out: Any) -> None:
    if request.HasField("lookup_from"):
        raise Unimplemented(f"recommend `lookup_from` is not supported {_BACKEND}")
    spec = await conn.spec(request.collection_name)
    using = request.using if request.HasField("using") else ""
    positive: list[Any] = list(request.positive)
    positive += [dense(v, "a positive vector") for v in request.positive_vectors]
    negative: list[Any] = list(request.negative)
    negative += [dense(v, "a negative vector") for v in request.negative_vectors]
    strategy = request.strategy if request.HasField("strategy") else None
    vector, excluded = await _recommend_vector(
        conn, spec, using=using, positive=positive, negative=negative, strategy=strategy
    )
    flt = request.filter if request.HasField("filter") else None
    search = _search(
        spec, request, using=using, vector=vector, flt=flt, limit=request.limit, excluded=excluded
    )
    await run(conn, spec, search, out)


@rpc("/qdrant.Points/RecommendBatch")
async def recommend_batch(conn: Connection, request: ppb.RecommendBatchPoints) -> Any:
    """Each recommendation of the batch, in order."""
    start = time.perf_counter()
    response = ppb.RecommendBatchResponse()
    for item in request.recommend_points:
        await _recommend_one(conn, item, response.result.add().result)
    response.time = _elapsed(start)
    return response


# ----------------------------------------------------------------------------- Query


def _example(v: ppb.VectorInput) -> Any:
    """A VectorInput as a point id (`PointId`) or a raw vector (ndarray)."""
    if v.WhichOneof("variant") == "id":
        return v.id
    return dense(v, "an example")


async def _query_one(conn: Connection, request: ppb.QueryPoints, out: Any) -> None:
    if request.prefetch:
        raise Unimplemented(f"Query `prefetch` is not supported {_BACKEND}")
    if request.HasField("lookup_from"):
        raise Unimplemented(f"Query `lookup_from` is not supported {_BACKEND}")
    if not request.HasField("query"):
        raise Unimplemented(
            f"Query without a `query` (points in id order) is not supported {_BACKEND}; use Scroll"
        )
    spec = await conn.spec(request.collection_name)
    using = request.using if request.HasField("using") else ""
    limit = request.limit if request.HasField("limit") else DEFAULT_LIMIT
    flt = request.filter if request.HasField("filter") else None
    query = request.query
    kind = query.WhichOneof("variant")
    excluded: list[str] = []
    if kind == "nearest":
        example = _example(query.nearest)
        if isinstance(example, np.ndarray):
            vector = example
        else:
            (vector,) = await _stored(conn, spec, spec.vector(using), [example])
            excluded = [pk_of(example)]
    elif kind == "recommend":
        reco = query.recommend
        strategy = reco.strategy if reco.HasField("strategy") else None
        vector, excluded = await _recommend_vector(
            conn,
            spec,
            using=using,
            positive=[_example(v) for v in reco.positive],
            negative=[_example(v) for v in reco.negative],
            strategy=strategy,
        )
    else:
        raise Unimplemented(f"Query `{kind}` is not supported {_BACKEND}")
    search = _search(
        spec, request, using=using, vector=vector, flt=flt, limit=limit, excluded=excluded
    )
    await run(conn, spec, search, out)


@rpc("/qdrant.Points/Query")
async def query_rpc(conn: Connection, request: ppb.QueryPoints) -> Any:
    """Universal query: nearest (vector or id) and recommend."""
    start = time.perf_counter()
    response = ppb.QueryResponse()
    await _query_one(conn, request, response.result)
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Points/QueryBatch")
async def query_batch(conn: Connection, request: ppb.QueryBatchPoints) -> Any:
    """Each query of the batch, in order."""
    start = time.perf_counter()
    response = ppb.QueryBatchResponse()
    for item in request.query_points:
        await _query_one(conn, item, response.result.add().result)
    response.time = _elapsed(start)
    return response
