"""Engine results (`ScoredPoint`, `Record`) written into Qdrant's protobuf responses.

Hot path: one call per hit. Fields are written straight into the repeated field's
new element (`add()`), never built separately and copied.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.vectors import fill_vectors_output
from proxy.values import python_to_payload, python_to_point_id

if TYPE_CHECKING:
    from collections.abc import Iterable

    import qdrant_edge as qe


def elapsed(start: float) -> float:
    """Seconds since `start` (a `time.perf_counter()` reading), for a response's `time`."""
    return time.perf_counter() - start


def _fill_record(source: qe.ScoredPoint | qe.Record, out: Any) -> None:
    """Id, payload, vectors and order value: what hits and records share."""
    python_to_point_id(source.id, out.id)
    payload = source.payload
    if payload:
        python_to_payload(payload, out.payload)
    vector = source.vector
    if vector is not None:
        fill_vectors_output(vector, out.vectors)
    order_value = source.order_value
    if order_value is not None:
        fill_order_value(order_value, out.order_value)


def fill_scored_point(p: qe.ScoredPoint, out: ppb.ScoredPoint) -> None:
    """Write one engine hit into a protobuf `ScoredPoint`."""
    _fill_record(p, out)
    out.score = p.score
    out.version = p.version


def fill_scored_points(points: Iterable[qe.ScoredPoint], out: Any) -> None:
    """Append engine hits to a repeated `ScoredPoint` field."""
    for p in points:
        fill_scored_point(p, out.add())


def fill_retrieved_point(r: qe.Record, out: ppb.RetrievedPoint) -> None:
    """Write one engine record into a protobuf `RetrievedPoint`."""
    _fill_record(r, out)


def fill_retrieved_points(records: Iterable[qe.Record], out: Any) -> None:
    """Append engine records to a repeated `RetrievedPoint` field."""
    for r in records:
        fill_retrieved_point(r, out.add())


def fill_order_value(value: int | float, out: ppb.OrderValue) -> None:
    """An order-by value keeps its kind: integer fields give `int`, others `float`."""
    if isinstance(value, int):
        out.int = value
    else:
        out.float = value
