"""Point reads on Milvus: Get (retrieve), Scroll (pages in id order), Count."""

from __future__ import annotations

import time
from typing import Any

from qdrant_client.grpc import points_pb2 as ppb

from adapters.milvus.connection import Connection
from adapters.milvus.dispatch import rpc
from adapters.milvus.filters import to_expression
from adapters.milvus.ids import PK, pk_of, pks_of, write_point_id
from adapters.milvus.rows import by_keys, fields_for, fill_point, page
from adapters.milvus.vectors import payload_selector, vector_selector
from proxy.errors import InvalidArgument, Unimplemented

DEFAULT_SCROLL_LIMIT = 10


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _with_vectors(request: Any) -> Any:
    return request.with_vectors if request.HasField("with_vectors") else None


def _filter(request: Any) -> Any:
    return request.filter if request.HasField("filter") else None


@rpc("/qdrant.Points/Get")
async def get(conn: Connection, request: ppb.GetPoints) -> Any:
    """The points of these ids that exist, in the order asked, each once."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    any_payload, include, exclude = payload_selector(request.with_payload)
    vectors = vector_selector(
        spec, request.with_vectors if request.HasField("with_vectors") else None
    )
    pks = list(dict.fromkeys(pks_of(request.ids)))
    rows = await by_keys(conn, spec, pks, fields_for(spec, any_payload, vectors))
    response = ppb.GetResponse()
    for pk in pks:
        row = rows.get(pk)
        if row is not None:
            fill_point(
                spec, row, response.result.add(), include=include, exclude=exclude, vectors=vectors
            )
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Points/Scroll")
async def scroll(conn: Connection, request: ppb.ScrollPoints) -> Any:
    """A page of points in id order from `offset`, and the id that starts the next page."""
    start = time.perf_counter()
    if request.HasField("order_by"):
        raise Unimplemented(
            "Scroll `order_by` is not supported on the Milvus backend: a Milvus query cannot "
            "order rows by a JSON payload value"
        )
    spec = await conn.spec(request.collection_name)
    limit = request.limit if request.HasField("limit") else DEFAULT_SCROLL_LIMIT
    if limit < 1:
        raise InvalidArgument("Wrong input: limit must be at least 1")
    selector = request.with_payload if request.HasField("with_payload") else None
    any_payload, include, exclude = (
        payload_selector(selector) if selector is not None else (True, set(), set())
    )
    vectors = vector_selector(
        spec, request.with_vectors if request.HasField("with_vectors") else None
    )
    offset = pk_of(request.offset) if request.HasField("offset") else None
    rows = await page(
        conn,
        spec,
        to_expression(_filter(request), spec),
        fields_for(spec, any_payload, vectors),
        limit + 1,
        start_pk=offset,
    )
    response = ppb.ScrollResponse()
    for row in rows[:limit]:
        fill_point(
            spec, row, response.result.add(), include=include, exclude=exclude, vectors=vectors
        )
    if len(rows) > limit:
        write_point_id(rows[limit][PK], response.next_page_offset)
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Points/Count")
async def count(conn: Connection, request: ppb.CountPoints) -> Any:
    """The exact number of matching points (Milvus counts exactly either way)."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    rows = await conn.call(
        "Query",
        conn.client.query,
        spec.name,
        filter=to_expression(_filter(request), spec),
        output_fields=["count(*)"],
        consistency_level=conn.consistency,
    )
    response = ppb.CountResponse(time=0.0)
    response.result.count = int(rows[0]["count(*)"])
    response.time = _elapsed(start)
    return response
