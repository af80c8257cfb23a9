"""Record RPCs of `qdrant.Points`: Get, Scroll, Count and Facet on the embedded engine."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.dispatch import rpc
from adapters.embedded.filters import to_edge_filter
from adapters.embedded.queries import DEFAULT_LIMIT, at_least_one, optional, order_by
from adapters.embedded.results import elapsed, fill_retrieved_points
from adapters.embedded.vectors import with_payload_to_edge, with_vectors_to_edge
from proxy.errors import InvalidArgument
from proxy.values import point_id_to_python, point_ids_to_python, python_to_point_id

if TYPE_CHECKING:
    from adapters.embedded.catalog import Catalog

DEFAULT_FACET_LIMIT = 10


@rpc("/qdrant.Points/Get")
def get(catalog: Catalog, req: ppb.GetPoints) -> ppb.GetResponse:
    """Points by id, in request order, each once; missing ids are skipped."""
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    response = ppb.GetResponse()
    ids: list[qe.PointId] = [*point_ids_to_python(req.ids)]
    if ids:
        records = collection.shard.retrieve(
            ids,
            with_payload=with_payload_to_edge(req.with_payload),
            with_vector=with_vectors_to_edge(optional(req, "with_vectors")),
        )
        fill_retrieved_points(records, response.result)
    response.time = elapsed(start)
    return response


@rpc("/qdrant.Points/Scroll")
def scroll(catalog: Catalog, req: ppb.ScrollPoints) -> ppb.ScrollResponse:
    """A page of points by id (or by a payload field), with the next page's first id."""
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    limit = req.limit if req.HasField("limit") else DEFAULT_LIMIT
    if limit == 0:
        raise InvalidArgument("Limit cannot be 0")
    has_order = req.HasField("order_by")
    if has_order and req.HasField("offset"):
        raise InvalidArgument(
            "Cannot use an `offset` when using `order_by`. The alternative for paging is "
            "to use `order_by.start_from` and a filter to exclude the IDs that you've "
            "already seen for the `order_by.start_from` value"
        )
    offset = point_id_to_python(req.offset) if req.HasField("offset") else None
    # Scroll is the one read whose unset `with_payload` means "all payload" in Qdrant.
    with_payload = with_payload_to_edge(req.with_payload) if req.HasField("with_payload") else True
    records, next_offset = collection.shard.scroll(
        qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=to_edge_filter(req.filter),
            with_payload=with_payload,
            with_vector=with_vectors_to_edge(optional(req, "with_vectors")),
            order_by=order_by(req.order_by) if has_order else None,
        )
    )
    response = ppb.ScrollResponse()
    fill_retrieved_points(records, response.result)
    if next_offset is not None and not has_order:
        python_to_point_id(next_offset, response.next_page_offset)
    response.time = elapsed(start)
    return response


@rpc("/qdrant.Points/Count")
def count(catalog: Catalog, req: ppb.CountPoints) -> ppb.CountResponse:
    """How many points match the filter (exact unless `exact=false` is sent)."""
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    exact = req.exact if req.HasField("exact") else True
    n = collection.shard.count(qe.CountRequest(exact=exact, filter=to_edge_filter(req.filter)))
    response = ppb.CountResponse()
    response.result.count = n
    response.time = elapsed(start)
    return response


@rpc("/qdrant.Points/Facet")
def facet(catalog: Catalog, req: ppb.FacetCounts) -> ppb.FacetResponse:
    """Counts of the distinct values of a payload field (needs a payload index)."""
    start = time.perf_counter()
    collection = catalog.get(req.collection_name)
    limit = at_least_one(req.limit if req.HasField("limit") else DEFAULT_FACET_LIMIT, "limit")
    exact = req.exact if req.HasField("exact") else False
    result = collection.shard.facet(
        qe.FacetRequest(req.key, limit=limit, exact=exact, filter=to_edge_filter(req.filter))
    )
    response = ppb.FacetResponse()
    for hit in result.hits:
        out = response.hits.add()
        _fill_facet_value(hit.value, out.value)
        out.count = hit.count
    response.time = elapsed(start)
    return response


def _fill_facet_value(value: str | int | bool, out: ppb.FacetValue) -> None:
    """A facet value keeps its kind: string, integer or boolean."""
    if isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.integer_value = value
    else:
        out.string_value = str(value)
