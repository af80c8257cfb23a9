"""Validate: every vector fits its partition: known name, right dimension, finite values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from proxy._wirescan import dense_finite
from proxy.chain import RequestFilter
from proxy.envelope import Envelope
from proxy.errors import InvalidArgument
from proxy.frontend.ops import Kind
from proxy.frontend.walk import QueryVector, point_vectors
from proxy.registry import Partition
from proxy.wire import packed_matrix
from proxy.wire_points import PackedPoints


class Validate(RequestFilter):
    """Refuses a request whose vectors do not fit the partition it was routed to."""

    def on_request(self, env: Envelope) -> None:
        """Check every vector of a write or a search against the partition."""
        partition = env.partition
        if partition is None:
            return
        if env.bridge is not None:  # the query is still in the from-version's space
            partition = env.bridge.source_view
        if env.op.kind is Kind.SEARCH and env.shape is not None:
            check_vectors(env.shape.vectors, partition)
        elif env.op.kind is Kind.WRITE:
            if env.packed is not None and _packed_fit(env.packed, partition):
                return
            check_written_points(env.written, partition)


def _packed_fit(packed: PackedPoints, partition: Partition) -> bool:
    """Whether an upsert read from the wire is all finite unnamed vectors of the right size.

    False sends the request through `check_written_points`, which words any refusal.
    """
    default = partition.vectors.get("")
    if default is None or default.size is None or default.multivector:
        return False
    return packed.finite(default.size)


def check_written_points(written: Iterable[tuple[str, Any]], partition: Partition) -> None:
    """Check every written point; plain dense vectors take a batched fast path.

    The fast path reads all unnamed dense vectors from their wire bytes at once and
    checks them for NaN/Inf in one numpy pass; anything else (named, sparse,
    multi-dense) and any refusal goes through `check_vectors`, which words it.
    """
    default = partition.vectors.get("")
    fast = default is not None and default.size is not None and not default.multivector
    batch: list[tuple[str, Any]] = []
    for where, point in written:
        vectors = point.vectors
        if (
            fast
            and vectors.WhichOneof("vectors_options") == "vector"
            and vectors.vector.WhichOneof("vector") == "dense"
        ):
            batch.append((where, point))
        else:
            check_vectors(point_vectors(point, _point_label(where, point)), partition)
    if not batch:
        return
    assert default is not None
    assert default.size is not None
    matrix = packed_matrix([point.vectors.vector.dense for _, point in batch], default.size)
    if matrix is not None and np.isfinite(matrix).all():
        return
    for where, point in batch:  # find and word the first refusal
        check_vectors(point_vectors(point, _point_label(where, point)), partition)


def _point_label(where: str, point: object) -> str:
    point_id = point.id  # type: ignore[attr-defined]
    ident = point_id.uuid if point_id.WhichOneof("point_id_options") == "uuid" else point_id.num
    return f"{where} (id {ident})"


def _finite(values: Sequence[float]) -> bool:
    # A float sum is finite exactly when no term is NaN or infinite (float32 terms
    # cannot overflow a float64 sum), and one C-level pass is the cheapest check.
    return math.isfinite(sum(values))


def check_vectors(vectors: Iterable[QueryVector], partition: Partition) -> None:
    """Raise `InvalidArgument` naming the first vector that does not fit `partition`."""
    specs = partition.vectors
    for item in vectors:
        spec = specs.get(item.name)
        if spec is None:
            known = ", ".join(repr(n) for n in sorted(specs)) or "none"
            raise InvalidArgument(
                f"{item.where}: vector name {item.name!r} does not exist in collection "
                f"`{partition.logical}` ({partition.label()}); its vectors are: {known}",
                reason="unknown_vector",
            )
        if item.sparse is not None:
            indices, values = item.sparse
            if len(indices) != len(values):
                raise InvalidArgument(
                    f"{item.where}: sparse vector has {len(indices)} indices but "
                    f"{len(values)} values; they must be equal in number",
                    reason="bad_vector",
                )
            if not spec.sparse:
                raise InvalidArgument(
                    f"{item.where}: vector {item.name!r} is dense ({spec.size} dimensions), "
                    "a sparse vector was sent",
                    reason="bad_vector",
                )
            if not _finite(values):
                raise _not_finite(item, partition)
            continue
        if spec.sparse:
            raise InvalidArgument(
                f"{item.where}: vector {item.name!r} is sparse; send indices and values",
                reason="bad_vector",
            )
        rows = item.multi if item.multi is not None else [item.dense or ()]
        for row in rows:
            if len(row) != spec.size:
                raise InvalidArgument(
                    f"{item.where}: vector {item.name or '(default)'} has {len(row)} dimensions, "
                    f"but {partition.label()} in collection `{partition.logical}` makes "
                    f"{spec.size}; send a {spec.size}-dimensional vector of that model",
                    reason="wrong_dimension",
                )
            if not _finite_row(item, row):
                raise _not_finite(item, partition)


def _finite_row(item: QueryVector, row: Sequence[float]) -> bool:
    """Whether a query row is finite: from its `DenseVector` bytes in C when it is one
    (one packed block), else by summing the values."""
    if item.message is not None and item.multi is None:
        finite = dense_finite(item.message.SerializeToString(), len(row))
        if finite is not None:
            return finite
    return _finite(row)


def _not_finite(item: QueryVector, partition: Partition) -> InvalidArgument:
    return InvalidArgument(
        f"{item.where}: vector {item.name or '(default)'} holds NaN or infinite values; "
        f"{partition.label()} vectors must be finite numbers",
        reason="not_finite",
    )
