"""Reading Milvus rows by key or filter, in Qdrant's id order, and writing them into replies."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qdrant_client.grpc import points_pb2 as ppb

from adapters.milvus.connection import Connection
from adapters.milvus.filters import combine
from adapters.milvus.ids import PK, pk_list, write_point_id
from adapters.milvus.schema import PAYLOAD, CollectionSpec
from adapters.milvus.vectors import fill_vectors, select_payload
from proxy.values import python_to_payload

#: Rows read per Milvus query when walking every match (Milvus caps a query at 16,384).
PAGE = 1024


def fields_for(spec: CollectionSpec, payload: bool, vectors: Iterable[str]) -> list[str]:
    """The Milvus output fields a reply needs."""
    fields = [PK]
    if payload:
        fields.append(PAYLOAD)
    fields += [spec.vector(name).field for name in vectors]
    return fields


async def by_keys(
    conn: Connection, spec: CollectionSpec, pks: list[str], fields: list[str]
) -> dict[str, dict[str, Any]]:
    """The rows of these primary keys that exist, by key."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(pks), PAGE):
        chunk = pks[start : start + PAGE]
        rows = await conn.call(
            "Query",
            conn.client.query,
            spec.name,
            filter=f"{PK} in {pk_list(chunk)}",
            output_fields=fields,
            consistency_level=conn.consistency,
        )
        found.update({row[PK]: row for row in rows})
    return found


async def page(
    conn: Connection,
    spec: CollectionSpec,
    expression: str,
    fields: list[str],
    limit: int,
    *,
    start_pk: str | None = None,
    after: bool = False,
) -> list[dict[str, Any]]:
    """Up to `limit` matching rows with the lowest keys from `start_pk` on, in key order.

    Milvus answers a limited query with the lowest primary keys (pymilvus's query
    iterator relies on the same); they are sorted again here.
    """
    bound = "" if start_pk is None else f'{PK} {">" if after else ">="} "{start_pk}"'
    rows = await conn.call(
        "Query",
        conn.client.query,
        spec.name,
        filter=combine(bound, expression) or f'{PK} != ""',
        output_fields=fields,
        limit=limit,
        consistency_level=conn.consistency,
    )
    return sorted(rows, key=lambda row: str(row[PK]))


async def every(
    conn: Connection, spec: CollectionSpec, expression: str, fields: list[str]
) -> list[dict[str, Any]]:
    """Every row matching `expression`, walked page by page in key order."""
    out: list[dict[str, Any]] = []
    last: str | None = None
    while True:
        rows = await page(conn, spec, expression, fields, PAGE, start_pk=last, after=True)
        out += rows
        if len(rows) < PAGE:
            return out
        last = str(rows[-1][PK])


def fill_point(
    spec: CollectionSpec,
    row: dict[str, Any],
    out: ppb.RetrievedPoint | ppb.ScoredPoint,
    *,
    include: set[str],
    exclude: set[str],
    vectors: list[str],
) -> None:
    """Write id, selected payload and vectors of a row into a reply point."""
    write_point_id(row[PK], out.id)
    payload = row.get(PAYLOAD)
    if payload:
        python_to_payload(select_payload(payload, include, exclude), out.payload)
    if vectors:
        fill_vectors(spec, vectors, row, out.vectors)
