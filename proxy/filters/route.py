"""Route: point a data request at the partition of its identity, or refuse.

Also resolves collections a request names besides its own (`lookup_from`,
`with_lookup`): they must hold a partition of the same model version too.
"""

from __future__ import annotations

from typing import Any

from proxy.chain import RequestFilter
from proxy.envelope import Envelope
from proxy.errors import FailedPrecondition, NoPartition
from proxy.filters.bridge import bridge_for
from proxy.frontend.ops import Kind
from proxy.frontend.walk import Written, point_vector_names, query_shape
from proxy.registry import Partition, Registry
from proxy.routing import choose_partition, missing_identity
from proxy.wire_points import read_upsert

_DATA_KINDS = (Kind.WRITE, Kind.READ, Kind.SEARCH)


class Route(RequestFilter):
    """Chooses `env.partition` for reads, writes and searches."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def on_request(self, env: Envelope) -> None:
        """Resolve the logical collection and the partition of the request's identity."""
        op = env.op
        if op.kind not in _DATA_KINDS or env.collection is None:
            return
        logical = self.registry.resolve(env.collection)
        env.logical = logical
        names = self._names_and_vectors(env)
        bridge = bridge_for(self.registry, env, logical)
        if bridge is not None:  # an operator's explicit, measured exception
            env.partition, env.bridge, env.decision = bridge.target, bridge, "bridged"
            return
        env.partition = choose_partition(
            logical, env.claim, needs_identity=env.carries_vectors, what=op.label
        )
        if op.kind is Kind.WRITE and env.partition.retired:
            raise FailedPrecondition(
                f"version {env.partition.label()} of `{logical.name}` is retired: it was "
                f"replaced by a migration and is read-only; write under the active version "
                f"({logical.active.label() if logical.active else 'none'})",
                reason="retired",
            )
        if env.carries_vectors:
            unstated = [n for n in names if env.claim.for_name(n) is None]
            if unstated:
                raise missing_identity(op.label, logical.name, unstated)
        if env.shape is not None:
            for lookup in env.shape.lookups:
                self._route_lookup(env, lookup, env.partition)
        env.decision = "routed"

    def _names_and_vectors(self, env: Envelope) -> set[str]:
        op, request = env.op, env.request
        if op.kind is Kind.SEARCH:
            env.shape = query_shape(op.name, request)
            env.carries_vectors = bool(env.shape.vectors)
            return env.shape.names
        names: set[str] = set()
        if op.name == "Upsert":  # read from the wire bytes in one pass (wire_points)
            env.packed = read_upsert(request, env.received)
            env.written = Written(op.name, request, env.packed.count)
            env.points = env.packed.count
            if env.packed.unnamed_dense:
                env.carries_vectors = True
                return {""}
        elif op.kind is Kind.WRITE:
            env.written = Written(op.name, request)
            env.points = len(env.written)
        for _, point in env.written:
            names.update(point_vector_names(point))
        env.carries_vectors = bool(names)
        return names

    def _route_lookup(self, env: Envelope, lookup: Any, partition: Partition) -> None:
        """Rewrite a `LookupLocation` / `WithLookup` to a partition of the same version."""
        field = "collection_name" if hasattr(lookup, "vector_name") else "collection"
        other = self.registry.resolve(getattr(lookup, field))
        target: Partition | None
        if field == "collection":  # with_lookup: payload of group ids, no comparison
            target = choose_partition(other, env.claim, needs_identity=False, what=env.op.label)
        else:
            target = next((p for p in other.partitions if _same_space(p, partition)), None)
            if target is None:
                raise NoPartition(
                    f"lookup_from collection `{other.name}` has no index built by "
                    f"{partition.label()}; it holds {other.versions_text()}. vecgate does not "
                    "compare vectors of different model versions.",
                    reason="cross_version_lookup",
                )
        setattr(lookup, field, target.physical)


def _same_space(candidate: Partition, partition: Partition) -> bool:
    """Whether two partitions share at least one vector name and agree on all they share."""
    shared = candidate.binding.keys() & partition.binding.keys()
    return bool(shared) and all(candidate.binding[n] == partition.binding[n] for n in shared)
