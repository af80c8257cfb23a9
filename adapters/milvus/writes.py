"""Point writes on Milvus: upsert, delete, payload operations, vector updates, batches.

Milvus has no partial update of a JSON field, so payload and vector operations read
the selected rows (Strong consistency), change them and upsert them back. Such an
operation is not atomic against a concurrent write of the same point through
another client (decision 32).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client.grpc import points_pb2 as ppb

from adapters.milvus.connection import Connection
from adapters.milvus.direct import json_of
from adapters.milvus.dispatch import rpc
from adapters.milvus.filters import to_expression
from adapters.milvus.ids import PK, pk_list, pk_of, pks_of
from adapters.milvus.rows import every
from adapters.milvus.schema import PAYLOAD, CollectionSpec
from adapters.milvus.vectors import _drop_path, dense, point_vectors, prepared, vector_columns
from proxy.errors import InvalidArgument, NotFound, Unimplemented
from proxy.values import payload_to_python

_BACKEND = "on the Milvus backend"
COMPLETED = ppb.UpdateStatus.Completed


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _done(start: float) -> ppb.PointsOperationResponse:
    response = ppb.PointsOperationResponse(time=0.0)
    response.result.operation_id = 0
    response.result.status = COMPLETED
    response.time = _elapsed(start)
    return response


def _refuse_options(request: Any, *names: str) -> None:
    for name in names:
        if request.HasField(name):
            raise Unimplemented(f"`{name}` is not supported {_BACKEND}")


# ----------------------------------------------------------------------------- upsert


def upsert_rows(spec: CollectionSpec, points: Any) -> list[dict[str, Any]]:
    """Qdrant points as Milvus rows (every vector checked and prepared)."""
    rows = []
    for n, point in enumerate(points):
        where = f"point {n}"
        row = point_vectors(spec, point.vectors, where)
        row[PK] = pk_of(point.id)
        row[PAYLOAD] = payload_to_python(point.payload)
        rows.append(row)
    return rows


@dataclass(slots=True)
class Columns:
    """Rows to upsert, column by column: keys, JSON payloads, one matrix per vector field."""

    pks: list[str]
    payloads: list[bytes]
    vectors: dict[str, np.ndarray]


def upsert_columns(spec: CollectionSpec, points: Any) -> Columns:
    """Qdrant points as columns: vectors in one numpy pass per field where every point
    is plain (`vector_columns`), else point by point (`upsert_rows`)."""
    points = list(points)
    vectors = vector_columns(spec, points)
    if vectors is None:
        return columns_of(spec, upsert_rows(spec, points))
    return Columns(
        pks=[pk_of(point.id) for point in points],
        payloads=[json_of(payload_to_python(point.payload)) for point in points],
        vectors=vectors,
    )


def columns_of(spec: CollectionSpec, rows: list[dict[str, Any]]) -> Columns:
    """Rows (as `upsert_rows` makes them, or as read back from Milvus) as columns."""
    return Columns(
        pks=[row[PK] for row in rows],
        payloads=[json_of(row[PAYLOAD]) for row in rows],
        vectors={
            field.field: np.asarray([row[field.field] for row in rows], dtype=np.float32)
            for field in spec.vectors.values()
        },
    )


async def _write(conn: Connection, spec: CollectionSpec, columns: Columns) -> None:
    if not columns.pks:
        return
    await conn.call(
        "Upsert",
        conn.fast.upsert,
        spec.name,
        pks=columns.pks,
        payloads=columns.payloads,
        vectors=columns.vectors,
    )
    await conn.written(spec.name, len(columns.pks))


async def _upsert(conn: Connection, spec: CollectionSpec, rows: list[dict[str, Any]]) -> None:
    """Write rows back (payload and vector operations)."""
    if rows:
        await _write(conn, spec, columns_of(spec, rows))


@rpc("/qdrant.Points/Upsert")
async def upsert(conn: Connection, request: ppb.UpsertPoints) -> Any:
    """Insert or replace points."""
    start = time.perf_counter()
    _refuse_options(request, "update_filter", "update_mode", "shard_key_selector")
    spec = await conn.spec(request.collection_name)
    await _write(conn, spec, upsert_columns(spec, request.points))
    return _done(start)


# ----------------------------------------------------------------------------- delete


def selector_expression(selector: ppb.PointsSelector, spec: CollectionSpec) -> str:
    """The Milvus expression of a Qdrant points selector (ids or filter)."""
    kind = selector.WhichOneof("points_selector_one_of")
    if kind == "points":
        pks = pks_of(selector.points.ids)
        return f"{PK} in {pk_list(pks)}" if pks else ""
    if kind == "filter":
        expression = to_expression(selector.filter, spec)
        return expression or f'{PK} != ""'
    raise InvalidArgument("Wrong input: the points selector is empty; give ids or a filter")


async def _delete(conn: Connection, spec: CollectionSpec, selector: ppb.PointsSelector) -> None:
    expression = selector_expression(selector, spec)
    if expression:
        await conn.call("Delete", conn.client.delete, spec.name, filter=expression)


@rpc("/qdrant.Points/Delete")
async def delete(conn: Connection, request: ppb.DeletePoints) -> Any:
    """Delete points by ids or filter."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    await _delete(conn, spec, request.points)
    return _done(start)


# ----------------------------------------------------------------------------- payload


async def _rows_of(
    conn: Connection, spec: CollectionSpec, selector: ppb.PointsSelector
) -> list[dict[str, Any]]:
    expression = selector_expression(selector, spec)
    if not expression:
        return []
    return await every(conn, spec, expression, [PK, PAYLOAD, *spec.vector_fields])


def _set_at(payload: dict[str, Any], key: str | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Qdrant's set payload: merge `values` at the top, or into the object at `key`."""
    merged = dict(payload)
    if not key:
        merged.update(values)
        return merged
    if "[" in key:
        raise Unimplemented(
            f"set payload `key` {key!r} with array paths is not supported {_BACKEND}"
        )
    target = merged
    parts = key.split(".")
    for part in parts[:-1]:
        inner = target.get(part)
        target[part] = dict(inner) if isinstance(inner, Mapping) else {}
        target = target[part]
    last = target.get(parts[-1])
    target[parts[-1]] = {**(last if isinstance(last, Mapping) else {}), **values}
    return merged


async def _rewrite_payloads(
    conn: Connection, spec: CollectionSpec, selector: ppb.PointsSelector, change: Any
) -> None:
    rows = await _rows_of(conn, spec, selector)
    for row in rows:
        row[PAYLOAD] = change(dict(row.get(PAYLOAD) or {}))
    await _upsert(conn, spec, rows)


async def set_payload(conn: Connection, spec: CollectionSpec, op: Any, overwrite: bool) -> None:
    """SetPayload / OverwritePayload (also inside UpdateBatch)."""
    values = payload_to_python(op.payload)
    key = op.key if op.HasField("key") else None
    if overwrite and key:
        raise Unimplemented(f"overwrite payload with `key` is not supported {_BACKEND}")

    def change(payload: dict[str, Any]) -> dict[str, Any]:
        return dict(values) if overwrite else _set_at(payload, key, values)

    await _rewrite_payloads(conn, spec, op.points_selector, change)


async def delete_payload(conn: Connection, spec: CollectionSpec, op: Any) -> None:
    """DeletePayload: remove keys (dotted keys reach into objects)."""
    keys = [key.split(".") for key in op.keys]

    def change(payload: dict[str, Any]) -> dict[str, Any]:
        for parts in keys:
            _drop_path(payload, parts)
        return payload

    await _rewrite_payloads(conn, spec, op.points_selector, change)


async def clear_payload(
    conn: Connection, spec: CollectionSpec, selector: ppb.PointsSelector
) -> None:
    """ClearPayload: every key removed."""
    await _rewrite_payloads(conn, spec, selector, lambda _: {})


@rpc("/qdrant.Points/SetPayload")
async def set_payload_rpc(conn: Connection, request: ppb.SetPayloadPoints) -> Any:
    """Set payload keys on the selected points."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    await set_payload(conn, spec, request, overwrite=False)
    return _done(start)


@rpc("/qdrant.Points/OverwritePayload")
async def overwrite_payload_rpc(conn: Connection, request: ppb.SetPayloadPoints) -> Any:
    """Replace the whole payload of the selected points."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    await set_payload(conn, spec, request, overwrite=True)
    return _done(start)


@rpc("/qdrant.Points/DeletePayload")
async def delete_payload_rpc(conn: Connection, request: ppb.DeletePayloadPoints) -> Any:
    """Remove payload keys from the selected points."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    await delete_payload(conn, spec, request)
    return _done(start)


@rpc("/qdrant.Points/ClearPayload")
async def clear_payload_rpc(conn: Connection, request: ppb.ClearPayloadPoints) -> Any:
    """Remove the whole payload of the selected points."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    await clear_payload(conn, spec, request.points)
    return _done(start)


# ----------------------------------------------------------------------------- vectors


async def update_vectors(conn: Connection, spec: CollectionSpec, points: Any) -> None:
    """Replace some vectors of existing points (points that do not exist: NOT_FOUND)."""
    wanted = {pk_of(p.id): p for p in points}
    if not wanted:
        return
    selector = ppb.PointsSelector()
    selector.points.ids.extend(p.id for p in points)
    rows = {row[PK]: row for row in await _rows_of(conn, spec, selector)}
    missing = [pk for pk in wanted if pk not in rows]
    if missing:
        raise NotFound(f"Not found: No point with id {missing[0][1:].lstrip('0') or '0'} found")
    for pk, point in wanted.items():
        kind = point.vectors.WhichOneof("vectors_options")
        given = (
            {"": point.vectors.vector} if kind == "vector" else dict(point.vectors.vectors.vectors)
        )
        for name, vector in given.items():
            field = spec.vector(name)
            rows[pk][field.field] = prepared(field, dense(vector, f"point {pk}"), f"point {pk}")
    await _upsert(conn, spec, list(rows.values()))


@rpc("/qdrant.Points/UpdateVectors")
async def update_vectors_rpc(conn: Connection, request: ppb.UpdatePointVectors) -> Any:
    """Replace vectors of existing points."""
    start = time.perf_counter()
    _refuse_options(request, "update_filter")
    spec = await conn.spec(request.collection_name)
    await update_vectors(conn, spec, request.points)
    return _done(start)


@rpc("/qdrant.Points/UpdateBatch")
async def update_batch(conn: Connection, request: ppb.UpdateBatchPoints) -> Any:
    """Run each operation in order (not atomic as a whole, as on Qdrant)."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    response = ppb.UpdateBatchResponse()
    for op in request.operations:
        kind = op.WhichOneof("operation")
        if kind == "upsert":
            _refuse_options(op.upsert, "update_filter", "update_mode")
            await _write(conn, spec, upsert_columns(spec, op.upsert.points))
        elif kind == "delete_points":
            await _delete(conn, spec, op.delete_points.points)
        elif kind in ("set_payload", "overwrite_payload"):
            await set_payload(conn, spec, getattr(op, kind), overwrite=kind == "overwrite_payload")
        elif kind == "delete_payload":
            await delete_payload(conn, spec, op.delete_payload)
        elif kind == "clear_payload":
            await clear_payload(conn, spec, op.clear_payload.points)
        elif kind == "update_vectors":
            _refuse_options(op.update_vectors, "update_filter")
            await update_vectors(conn, spec, op.update_vectors.points)
        else:
            raise Unimplemented(f"UpdateBatch operation `{kind}` is not supported {_BACKEND}")
        result = response.result.add()
        result.operation_id = 0
        result.status = COMPLETED
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Points/CreateFieldIndex", "/qdrant.Points/DeleteFieldIndex")
async def field_index(conn: Connection, request: Any) -> Any:
    """Accepted and changes nothing: a payload index only speeds Qdrant up, results are the
    same; Milvus filters the JSON field without one (decision 32)."""
    start = time.perf_counter()
    await conn.spec(request.collection_name)
    return _done(start)
