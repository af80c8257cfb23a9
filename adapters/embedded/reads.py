"""Read RPCs of `qdrant.Points` on the embedded engine: search, recommend, discover, query.

Each handler takes the catalog and the native request and returns the native
response with Qdrant's semantics and defaults (gRPC: payload and vectors are off
unless asked for, except Scroll whose payload is on). `read_consistency`,
`shard_key_selector` and `timeout` are ignored: there is one node and one shard.
Importing this module also registers the record (`records`) and distance-matrix
(`matrix`) handlers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded import groups as grouping
from adapters.embedded import matrix, records  # noqa: F401 - importing registers them
from adapters.embedded.dispatch import rpc
from adapters.embedded.examples import Example, Scope, discover, recommend, vector_example
from adapters.embedded.filters import to_edge_filter
from adapters.embedded.queries import (
    DEFAULT_LIMIT,
    Output,
    at_least_one,
    optional,
    universal_query,
    vector_query,
)
from adapters.embedded.results import elapsed, fill_scored_points
from adapters.embedded.vectors import (
    sparse_vector,
    vector_to_edge,
    with_payload_to_edge,
    with_vectors_to_edge,
)
from proxy.errors import InvalidArgument
from proxy.values import point_ids_to_python

if TYPE_CHECKING:
    from adapters.embedded.catalog import Catalog, Collection


class _Response(Protocol):
    """A response message with a `result` field and a `time` field."""

    time: float

    @property
    def result(self) -> Any:
        """The `result` field."""


R = TypeVar("R", bound=_Response)

DEFAULT_GROUP_LIMIT = 10
DEFAULT_GROUP_SIZE = 3


# --------------------------------------------------------------------- helpers


def _output(req: Any, limit: int, offset: int = 0) -> Output:
    """Limit, offset and the payload/vector selectors of a request."""
    return Output(
        limit=at_least_one(limit, "limit"),
        offset=offset,
        with_payload=with_payload_to_edge(optional(req, "with_payload")),
        with_vector=with_vectors_to_edge(optional(req, "with_vectors")),
    )


def _offset(req: Any) -> int:
    """The optional `offset` field (0 when unset)."""
    offset: int = req.offset if req.HasField("offset") else 0
    return offset


# --------------------------------------------------------------------- request builders


def _search_vector(req: Any) -> Any:
    """The query vector of `SearchPoints` / `SearchPointGroups` (dense or sparse)."""
    data = list(req.vector)
    if req.HasField("sparse_indices"):
        return sparse_vector(req.sparse_indices.data, data)
    if not data:
        raise InvalidArgument("`vector` is empty; send the query vector")
    return data


def _search_query(req: Any) -> Any:
    """The nearest query of a search request."""
    using = req.vector_name if req.HasField("vector_name") else ""
    return qe.Query.Nearest(_search_vector(req), using)


def _search_request(scope: Scope, req: ppb.SearchPoints) -> qe.QueryRequest:
    """`SearchPoints` as an engine request."""
    return vector_query(
        scope,
        _search_query(req),
        user_filter=to_edge_filter(req.filter),
        out=_output(req, req.limit, _offset(req)),
        params=optional(req, "params"),
        score_threshold=optional(req, "score_threshold"),
    )


def _recommend_query(scope: Scope, req: Any) -> Any:
    """The query of `RecommendPoints` / `RecommendPointGroups` (ids and vectors)."""
    using = req.using if req.HasField("using") else ""
    resolver = scope.resolver(using, optional(req, "lookup_from"))
    positive: list[Example] = [*point_ids_to_python(req.positive)]
    positive.extend(vector_to_edge(v) for v in req.positive_vectors)
    negative: list[Example] = [*point_ids_to_python(req.negative)]
    negative.extend(vector_to_edge(v) for v in req.negative_vectors)
    strategy = req.strategy if req.HasField("strategy") else ppb.AverageVector
    return recommend(resolver, positive, negative, strategy, using)


def _recommend_request(scope: Scope, req: ppb.RecommendPoints) -> qe.QueryRequest:
    """`RecommendPoints` as an engine request; example ids leave the results."""
    query = _recommend_query(scope, req)
    return vector_query(
        scope,
        query,
        user_filter=to_edge_filter(req.filter),
        out=_output(req, req.limit, _offset(req)),
        params=optional(req, "params"),
        score_threshold=optional(req, "score_threshold"),
    )


def _discover_request(scope: Scope, req: ppb.DiscoverPoints) -> qe.QueryRequest:
    """`DiscoverPoints` as an engine request (context search when there is no target)."""
    using = req.using if req.HasField("using") else ""
    resolver = scope.resolver(using, optional(req, "lookup_from"))
    target = None
    if req.HasField("target") and req.target.WhichOneof("target") == "single":
        target = vector_example(req.target.single)
    pairs = [(vector_example(p.positive), vector_example(p.negative)) for p in req.context]
    query = discover(resolver, target, pairs, using)
    return vector_query(
        scope,
        query,
        user_filter=to_edge_filter(req.filter),
        out=_output(req, req.limit, _offset(req)),
        params=optional(req, "params"),
        score_threshold=None,
    )


def _query_request(scope: Scope, req: ppb.QueryPoints) -> qe.QueryRequest:
    """`QueryPoints` as an engine request."""
    limit = req.limit if req.HasField("limit") else DEFAULT_LIMIT
    return universal_query(scope, req, _output(req, limit, _offset(req)))


# --------------------------------------------------------------------- single and batch


def _run(catalog: Catalog, name: str, build: Any, req: Any, response: R) -> R:
    """Run one request built by `build(scope, req)` and fill `response.result`."""
    start = time.perf_counter()
    collection = catalog.get(name)
    points = collection.shard.query(build(Scope(catalog, collection), req))
    fill_scored_points(points, response.result)
    response.time = elapsed(start)
    return response


def _run_batch(catalog: Catalog, name: str, build: Any, reqs: Any, response: R) -> R:
    """Run a batch as one planned engine batch and fill one `BatchResult` per request."""
    start = time.perf_counter()
    collection = catalog.get(name)
    requests = [build(Scope(catalog, collection), r) for r in reqs]
    if requests:
        batches = collection.shard.query_batch(qe.QueryBatchRequest(requests))
        for points in batches:
            fill_scored_points(points, response.result.add().result)
    response.time = elapsed(start)
    return response


@rpc("/qdrant.Points/Search")
def search(catalog: Catalog, req: ppb.SearchPoints) -> ppb.SearchResponse:
    """Nearest neighbours of a vector."""
    return _run(catalog, req.collection_name, _search_request, req, ppb.SearchResponse())


@rpc("/qdrant.Points/SearchBatch")
def search_batch(catalog: Catalog, req: ppb.SearchBatchPoints) -> ppb.SearchBatchResponse:
    """Several searches, one result list each."""
    response = ppb.SearchBatchResponse()
    return _run_batch(catalog, req.collection_name, _search_request, req.search_points, response)


@rpc("/qdrant.Points/Recommend")
def recommend_points(catalog: Catalog, req: ppb.RecommendPoints) -> ppb.RecommendResponse:
    """Points like the positive examples and unlike the negative ones."""
    return _run(catalog, req.collection_name, _recommend_request, req, ppb.RecommendResponse())


@rpc("/qdrant.Points/RecommendBatch")
def recommend_batch(catalog: Catalog, req: ppb.RecommendBatchPoints) -> ppb.RecommendBatchResponse:
    """Several recommendations, one result list each."""
    response = ppb.RecommendBatchResponse()
    reqs = req.recommend_points
    return _run_batch(catalog, req.collection_name, _recommend_request, reqs, response)


@rpc("/qdrant.Points/Discover")
def discover_points(catalog: Catalog, req: ppb.DiscoverPoints) -> ppb.DiscoverResponse:
    """Points near the target inside the space the context pairs describe."""
    return _run(catalog, req.collection_name, _discover_request, req, ppb.DiscoverResponse())


@rpc("/qdrant.Points/DiscoverBatch")
def discover_batch(catalog: Catalog, req: ppb.DiscoverBatchPoints) -> ppb.DiscoverBatchResponse:
    """Several discover requests, one result list each."""
    response = ppb.DiscoverBatchResponse()
    reqs = req.discover_points
    return _run_batch(catalog, req.collection_name, _discover_request, reqs, response)


@rpc("/qdrant.Points/Query")
def query(catalog: Catalog, req: ppb.QueryPoints) -> ppb.QueryResponse:
    """The universal query: prefetch stages and any query variant."""
    return _run(catalog, req.collection_name, _query_request, req, ppb.QueryResponse())


@rpc("/qdrant.Points/QueryBatch")
def query_batch(catalog: Catalog, req: ppb.QueryBatchPoints) -> ppb.QueryBatchResponse:
    """Several universal queries, one result list each."""
    response = ppb.QueryBatchResponse()
    return _run_batch(catalog, req.collection_name, _query_request, req.query_points, response)


# --------------------------------------------------------------------- groups


def _group_spec(req: Any, limit: int, group_size: int) -> grouping.GroupSpec:
    """Grouping parameters and the payload/vector selectors of the hits."""
    return grouping.GroupSpec(
        group_by=req.group_by,
        group_size=group_size,
        limit=limit,
        with_payload=with_payload_to_edge(optional(req, "with_payload")),
        with_vector=with_vectors_to_edge(optional(req, "with_vectors")),
        with_lookup=optional(req, "with_lookup"),
    )


def _run_groups(
    catalog: Catalog,
    collection: Collection,
    build: grouping.CandidateQuery,
    spec: grouping.GroupSpec,
    *,
    response: R,
    start: float,
) -> R:
    """Group the candidates `build` yields and fill `response.result`."""
    found = grouping.group_points(collection.shard, build, spec)
    grouping.fill_groups(catalog, collection.shard, found, spec, response.result)
    response.time = elapsed(start)
    return response


def _single_stage(
    scope: Scope, query: Any, req: Any, threshold: float | None
) -> grouping.CandidateQuery:
    """Candidate requests for a one-stage vector query (search, recommend)."""
    user_filter = to_edge_filter(req.filter)
    params = optional(req, "params")

    def build(limit: int, selector: qe.WithPayloadType) -> qe.QueryRequest:
        out = Output(limit=limit, with_payload=selector)
        return vector_query(
            scope, query, user_filter=user_filter, out=out, params=params, score_threshold=threshold
        )

    return build


@rpc("/qdrant.Points/SearchGroups")
def search_groups(catalog: Catalog, req: ppb.SearchPointGroups) -> ppb.SearchGroupsResponse:
    """Search results grouped by a payload field."""
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    scope = Scope(catalog, collection)
    spec = _group_spec(req, req.limit, req.group_size)
    grouping.validate(spec)
    build = _single_stage(scope, _search_query(req), req, optional(req, "score_threshold"))
    return _run_groups(
        catalog, collection, build, spec, response=ppb.SearchGroupsResponse(), start=start
    )


@rpc("/qdrant.Points/RecommendGroups")
def recommend_groups(
    catalog: Catalog, req: ppb.RecommendPointGroups
) -> ppb.RecommendGroupsResponse:
    """Recommendations grouped by a payload field."""
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    scope = Scope(catalog, collection)
    spec = _group_spec(req, req.limit, req.group_size)
    grouping.validate(spec)
    build = _single_stage(
        scope, _recommend_query(scope, req), req, optional(req, "score_threshold")
    )
    return _run_groups(
        catalog, collection, build, spec, response=ppb.RecommendGroupsResponse(), start=start
    )


@rpc("/qdrant.Points/QueryGroups")
def query_groups(catalog: Catalog, req: ppb.QueryPointGroups) -> ppb.QueryGroupsResponse:
    """Universal query results grouped by a payload field.

    As in Qdrant's local mode, every prefetch stage keeps all its candidates (its
    limit is raised to the collection's size) so the grouping sees them all.
    """
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    limit = req.limit if req.HasField("limit") else DEFAULT_GROUP_LIMIT
    group_size = req.group_size if req.HasField("group_size") else DEFAULT_GROUP_SIZE
    spec = _group_spec(req, limit, group_size)
    grouping.validate(spec)
    prefetch_limit = max(collection.shard.info().points_count, 1) if req.prefetch else None

    def build(n: int, selector: qe.WithPayloadType) -> qe.QueryRequest:
        out = Output(limit=n, with_payload=selector)
        return universal_query(Scope(catalog, collection), req, out, prefetch_limit)

    return _run_groups(
        catalog, collection, build, spec, response=ppb.QueryGroupsResponse(), start=start
    )
