"""Routing state: logical collection -> its partitions (one per model binding) -> active one.

The state lives in the backend, not in this process, so gateway replicas and direct
readers agree: every partition is a backend collection whose metadata key
``vecgate`` holds a JSON description (logical name, binding, vector sizes), and the
logical name is a backend alias of the active partition (a cut-over is one atomic
alias switch). Any other alias pointing at a partition is a user alias of its
logical collection. This module only reads that state; `collection_ops` changes it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import structlog
from qdrant_client.grpc import collections_pb2 as cpb

from adapters.base import Backend
from proxy.bridge.fit import LinearMap
from proxy.bridge.record import BridgeRecord, BridgeStore
from proxy.errors import NotFound, VecgateError
from proxy.identity import Binding, Identity, binding_text
from proxy.naming import binding_key, is_physical
from proxy.shared_state import SharedState

log = structlog.get_logger("vecgate.registry")

METADATA_KEY = "vecgate"
SCHEMA = 1


@dataclass(frozen=True, slots=True)
class VectorSpec:
    """What one vector name of a partition accepts."""

    size: int | None  # None: sparse
    distance: str = ""
    multivector: bool = False

    @property
    def sparse(self) -> bool:
        """Whether this is a sparse vector (no fixed dimension)."""
        return self.size is None


@dataclass(frozen=True, slots=True)
class Partition:
    """One physical index: the vectors of one logical collection made by one binding."""

    physical: str
    logical: str
    binding: dict[str, Identity]
    vectors: dict[str, VectorSpec]
    created: str
    retired: bool = False  # read-only after a migration replaced it

    @property
    def key(self) -> str:
        """Canonical text of the binding."""
        return binding_key(self.binding)

    def label(self) -> str:
        """The binding as users read it (``minilm@2``)."""
        return binding_text(self.binding)

    def to_metadata(self) -> str:
        """The JSON stored in the backend collection's metadata."""
        return json.dumps(
            {
                "schema": SCHEMA,
                "logical": self.logical,
                "binding": {name: str(ident) for name, ident in self.binding.items()},
                "vectors": {
                    name: {"size": spec.size, "distance": spec.distance, "multi": spec.multivector}
                    for name, spec in self.vectors.items()
                },
                "created": self.created,
                "retired": self.retired,
            },
            sort_keys=True,
        )

    @classmethod
    def from_metadata(cls, physical: str, text: str) -> Partition:
        """Read a partition back from its stored metadata."""
        data: dict[str, Any] = json.loads(text)
        return cls(
            physical=physical,
            logical=data["logical"],
            binding={name: Identity.parse(ident) for name, ident in data["binding"].items()},
            vectors={
                name: VectorSpec(spec["size"], spec["distance"], spec["multi"])
                for name, spec in data["vectors"].items()
            },
            created=data["created"],
            retired=data.get("retired", False),
        )


@dataclass(slots=True)
class LogicalCollection:
    """A collection as clients see it: its partitions, the active one, its user aliases."""

    name: str
    partitions: list[Partition] = field(default_factory=list)
    active: Partition | None = None
    aliases: list[str] = field(default_factory=list)
    alias_missing: bool = False

    def partition_for(self, binding: Binding) -> Partition | None:
        """The partition built by exactly this binding, if any."""
        key = binding_key(binding)
        return next((p for p in self.partitions if p.key == key), None)

    def versions_text(self) -> str:
        """The model versions this collection holds, active first (for refusals)."""
        ordered = sorted(self.partitions, key=lambda p: (p is not self.active, p.created))
        labels = [p.label() + (" (active)" if p is self.active else "") for p in ordered]
        return ", ".join(labels) or "none"


@dataclass(frozen=True, slots=True)
class LiveBridge:
    """An enabled bridge whose partitions are both alive, with its map loaded."""

    record: BridgeRecord
    linear: LinearMap
    target: Partition  # the partition that answers
    source_view: Partition  # what the source version's query vectors must look like
    text: str  # what the trailer, the trace and the inspection record say: "a->b v3 (kind)"


@dataclass(slots=True)
class RoutingState:
    """A snapshot of all logical collections, user aliases and enabled bridges."""

    collections: dict[str, LogicalCollection] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # user alias -> logical name
    by_physical: dict[str, Partition] = field(default_factory=dict)
    bridges: dict[tuple[str, str], LiveBridge] = field(default_factory=dict)  # (logical, from)


class Registry(SharedState[RoutingState]):
    """Reads routing state from the backend and answers name lookups from a cache."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend, RoutingState())
        self.lock = asyncio.Lock()  # held by whoever changes routing state
        self.bridge_store = BridgeStore(backend)

    async def _read(self) -> RoutingState:
        """The whole routing state, as the backend holds it now."""
        listing = await self.backend.handle(
            "/qdrant.Collections/List", cpb.ListCollectionsRequest()
        )
        state = RoutingState()
        for description in listing.collections:
            if not is_physical(description.name):
                continue
            partition = await self.read_partition(description.name)
            if partition is None:
                continue
            state.by_physical[partition.physical] = partition
            logical = state.collections.setdefault(
                partition.logical, LogicalCollection(partition.logical)
            )
            logical.partitions.append(partition)
        aliases = await self.backend.handle(
            "/qdrant.Collections/ListAliases", cpb.ListAliasesRequest()
        )
        for alias in aliases.aliases:
            target = state.by_physical.get(alias.collection_name)
            if target is None:
                continue
            logical = state.collections[target.logical]
            if alias.alias_name == target.logical:
                logical.active = target
            else:
                logical.aliases.append(alias.alias_name)
                state.aliases[alias.alias_name] = target.logical
        for logical in state.collections.values():
            logical.partitions.sort(key=lambda p: p.created)
            logical.aliases.sort()
            if logical.active is None and logical.partitions:
                # An interrupted create or delete left no alias: the oldest partition
                # serves until `collection_ops` restores the alias.
                logical.active = logical.partitions[0]
                logical.alias_missing = True
        for record in await self.bridge_store.all():
            live = await self._live_bridge(state, record)
            if live is not None:
                state.bridges[(record.collection, record.source)] = live
        return state

    async def _live_bridge(self, state: RoutingState, record: BridgeRecord) -> LiveBridge | None:
        """The bridge as routing uses it, or None: disabled, or a partition it joins is
        retired or gone (a collection deleted and created again has new partitions)."""
        if not record.enabled:
            return None
        target = state.by_physical.get(record.target_physical)
        if target is None or target.created != record.target_created or target.retired:
            return None
        source = state.by_physical.get(record.source_physical)
        if source is not None and source.retired:
            return None
        try:
            linear = await self.bridge_store.load_map(record)
        except VecgateError as exc:  # a damaged map is not used, and said so
            log.warning(
                "bridge map unreadable; not bridging", bridge=record.label(), error=exc.message
            )
            return None
        name = record.vector_name
        view = Partition(
            physical="",
            logical=record.collection,
            binding={name: Identity.parse(record.source)},
            vectors={name: VectorSpec(record.d_in, record.distance)},
            created="",
        )
        return LiveBridge(record, linear, target, view, f"{record.label()} ({record.kind})")

    def bridge_for(self, logical: str, source: str) -> LiveBridge | None:
        """The enabled bridge of `logical` from `source`, if any."""
        return self.state.bridges.get((logical, source))

    async def read_partition(self, physical: str) -> Partition | None:
        """The partition a backend collection describes, or None (absent, or not vecgate's)."""
        try:
            info = await self.backend.handle(
                "/qdrant.Collections/Get", cpb.GetCollectionInfoRequest(collection_name=physical)
            )
        except NotFound:  # deleted between List and Get
            return None
        value = info.result.config.metadata.get(METADATA_KEY)
        if value is None or not value.string_value:
            return None
        return Partition.from_metadata(physical, value.string_value)

    def resolve(self, name: str) -> LogicalCollection:
        """The logical collection a client-facing name (logical name or alias) means."""
        state = self.state
        logical = state.collections.get(name)
        if logical is None and name in state.aliases:
            logical = state.collections.get(state.aliases[name])
        if logical is None:
            raise NotFound(f"Not found: Collection `{name}` doesn't exist!", reason="no_collection")
        return logical
