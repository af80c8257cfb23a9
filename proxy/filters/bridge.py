"""Bridge: answer a query of one model version from another version's index, through
a learned map, when an operator enabled it (`vecgate bridge enable`).

Route decides (`bridge_for`): a search under the bridge's from-version whose every
vector is a plain dense query vector goes to the to-version's partition. Validate
checks the vectors against the from-version's shape; `ApplyBridge` (after it) maps
them in place: one query vector sent as a `DenseVector` from its wire bytes to the
result's in C (`LinearMap.apply_wire`), several in one float32 matrix product (a
bridged query's cost is mostly memory traffic: docs/benchmarks.md, "Query bridge").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from proxy.chain import RequestFilter
from proxy.envelope import Envelope
from proxy.frontend.ops import Kind
from proxy.frontend.walk import QueryVector
from proxy.registry import LiveBridge, LogicalCollection, Registry
from proxy.wire import Floats, packed_floats, set_packed_floats

#: The searches a bridge answers: nearest neighbours of raw dense vectors. Recommend,
#: discover and queries by point id name points of the from-version: not bridged.
BRIDGEABLE = frozenset(
    {"Search", "SearchBatch", "SearchGroups", "Query", "QueryBatch", "QueryGroups"}
)
TRAILER = "vecgate-bridged"


def bridge_for(registry: Registry, env: Envelope, logical: LogicalCollection) -> LiveBridge | None:
    """The enabled bridge that answers this request, or None (route it as usual)."""
    state = registry.state
    if not state.bridges or env.op.kind is not Kind.SEARCH or env.op.name not in BRIDGEABLE:
        return None
    claim, shape = env.claim, env.shape
    if shape is None or not shape.vectors or shape.lookups:
        return None
    stated = {claim.general, *claim.per_name.values()} - {None}
    for identity in stated:
        bridge = state.bridges.get((logical.name, str(identity)))
        if bridge is None:
            continue
        name = bridge.record.vector_name
        if shape.names != {name} or claim.for_name(name) != identity:
            return None
        if any(v.dense is None for v in shape.vectors) or not _nearest_only(env):
            return None
        return bridge
    return None


def _nearest_only(env: Envelope) -> bool:
    """Whether every Query-API query is `nearest` of a raw dense vector (prefetches too)."""
    name = env.op.name
    if not name.startswith("Query"):
        return True
    items = env.request.query_points if name == "QueryBatch" else [env.request]
    return all(_query_nearest(item) for item in items)


def _query_nearest(msg: Any) -> bool:
    if not all(_query_nearest(p) for p in msg.prefetch):
        return False
    if not msg.HasField("query"):
        return True
    query = msg.query
    return bool(
        query.WhichOneof("variant") == "nearest" and query.nearest.WhichOneof("variant") == "dense"
    )


class ApplyBridge(RequestFilter):
    """Maps a bridged request's query vectors into the answering version's space."""

    def on_request(self, env: Envelope) -> None:
        """Rewrite every dense query vector `x` as `x @ W + b` (float32), in place."""
        bridge, shape = env.bridge, env.shape
        if bridge is None or shape is None:
            return
        vectors = shape.vectors
        if len(vectors) == 1:  # the common case: one query, mapped in C from its bytes
            message = vectors[0].message
            if message is not None:
                wired = bridge.linear.apply_wire(message.SerializeToString())
                if wired is not None:
                    message.ParseFromString(wired)
                    return
            _write(vectors[0], bridge.linear.apply(_read(vectors[0])))
            return
        mapped = bridge.linear.apply(np.vstack([_read(v) for v in vectors]))
        for vector, row in zip(vectors, mapped, strict=True):
            _write(vector, row)


def _read(vector: QueryVector) -> Floats:
    if vector.message is not None:
        return packed_floats(vector.message)
    return np.array(vector.dense, dtype=np.float32)


def _write(vector: QueryVector, values: Floats) -> None:
    if vector.message is not None:
        set_packed_floats(vector.message, values)
        return
    field: Any = vector.dense
    del field[:]
    field.extend(values.tolist())
