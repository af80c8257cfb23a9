"""Collections and aliases as clients see them: logical names over versioned partitions.

- Create under an identity creates that version's partition; the first one becomes
  active (the logical name is made a backend alias of it).
- Get / Update / Delete with an identity act on that version's partition; without,
  Get reads the active version, Update applies to every version and Delete removes
  the whole logical collection (every partition, every alias). Deleting the active
  version while others exist is refused: cut over first.
- List, Exists and aliases show logical names only, never a physical index.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from qdrant_client.grpc import collections_pb2 as cpb

from adapters.base import Backend
from proxy.bridge.record import drop_bridges
from proxy.envelope import Envelope
from proxy.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    VecgateError,
)
from proxy.identity import Identity
from proxy.models import ModelRegistry
from proxy.naming import PREFIX, physical_name
from proxy.registry import METADATA_KEY, LogicalCollection, Partition, Registry, VectorSpec
from proxy.routing import choose_partition, missing_identity

_DISTANCES = {v: k for k, v in cpb.Distance.items()}


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _vector_specs(request: Any) -> dict[str, VectorSpec]:
    """The vector names of a CreateCollection and what each accepts."""
    specs: dict[str, VectorSpec] = {}
    config = request.vectors_config
    which = config.WhichOneof("config") if request.HasField("vectors_config") else None
    params = {"": config.params} if which == "params" else dict(config.params_map.map)
    for name, item in params.items():
        specs[name] = VectorSpec(
            size=item.size,
            distance=_DISTANCES.get(item.distance, str(item.distance)),
            multivector=item.HasField("multivector_config"),
        )
    for name in request.sparse_vectors_config.map:
        specs[name] = VectorSpec(size=None)
    return specs


def _check_user_metadata(metadata: Any) -> None:
    if METADATA_KEY in metadata:
        raise InvalidArgument(
            f"collection metadata key {METADATA_KEY!r} is reserved for vecgate's routing "
            "state; use another key",
            reason="reserved_metadata",
        )


class CollectionOps:
    """The terminal for `qdrant.Collections` RPCs."""

    def __init__(self, backend: Backend, registry: Registry, models: ModelRegistry) -> None:
        self.backend = backend
        self.registry = registry
        self.models = models
        self._handlers: dict[str, Callable[[Envelope], Awaitable[Any]]] = {
            "Create": self.create,
            "Get": self.get,
            "List": self.list,
            "CollectionExists": self.exists,
            "Delete": self.delete,
            "Update": self.update,
            "UpdateAliases": self.update_aliases,
            "ListAliases": self.list_aliases,
            "ListCollectionAliases": self.list_collection_aliases,
        }

    async def handle(self, env: Envelope) -> Any:
        """Answer one Collections RPC."""
        env.decision = "served"
        return await self._handlers[env.op.name](env)

    # -- create ---------------------------------------------------------------------------

    async def create(self, env: Envelope) -> Any:
        """Create the partition of the request's identity (and the logical name if new)."""
        start = time.perf_counter()
        request = env.request
        name = request.collection_name
        if not name or name.startswith(PREFIX):
            raise InvalidArgument(
                f"collection name {name!r} is not allowed: names must be non-empty and must "
                f"not start with {PREFIX!r}, which vecgate reserves for its partitions",
                reason="bad_name",
            )
        _check_user_metadata(request.metadata)
        specs = _vector_specs(request)
        if not specs:
            raise InvalidArgument(
                f"collection `{name}` declares no vectors; vecgate versions collections by "
                "the embedding model of their vectors, so declare vectors_config",
                reason="no_vectors",
            )
        binding: dict[str, Identity] = {}
        for vector_name in specs:
            identity = env.claim.for_name(vector_name)
            if identity is None:
                raise missing_identity("Collections/Create", name, specs)
            binding[vector_name] = identity
            self._check_known_shape(identity, vector_name, specs[vector_name])
        env.partition = await self.create_partition(name, binding, specs, request)
        return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))

    async def create_partition(
        self, name: str, binding: dict[str, Identity], specs: dict[str, VectorSpec], request: Any
    ) -> Partition:
        """Create the partition of `binding` in logical collection `name` from a
        CreateCollection `request`; the first partition of a name becomes active."""
        async with self.registry.lock:
            state = await self.registry.refresh()
            if name in state.aliases:
                raise InvalidArgument(
                    f"Wrong input: Alias with name `{name}` already exists!",
                    reason="name_taken",
                )
            logical = state.collections.get(name)
            existing = logical.partition_for(binding) if logical is not None else None
            if existing is not None:
                raise AlreadyExists(
                    f"Wrong input: Collection `{name}` already exists! "
                    f"(it already has a partition for {existing.label()})",
                    reason="exists",
                )
            partition = Partition(
                physical=physical_name(name, binding),
                logical=name,
                binding=binding,
                vectors=specs,
                created=datetime.now(UTC).isoformat(timespec="microseconds"),
            )
            physical = type(request)()
            physical.CopyFrom(request)
            physical.collection_name = partition.physical
            physical.metadata[METADATA_KEY].string_value = partition.to_metadata()
            await self.backend.handle("/qdrant.Collections/Create", physical)
            if await self.registry.read_partition(partition.physical) is None:
                await self._drop(partition.physical)
                raise FailedPrecondition(
                    "the backend did not keep the collection metadata vecgate stores its "
                    "routing state in (a Qdrant server older than the collection-metadata "
                    "API?); vecgate cannot keep versions apart on it and created nothing",
                    reason="no_metadata",
                )
            if logical is None or logical.alias_missing:
                try:
                    target = partition if logical is None else logical.active
                    assert target is not None
                    await self._alias(name, target.physical)
                except VecgateError:
                    await self._drop(partition.physical)
                    raise
            await self.registry.refresh()
        return partition

    def _check_known_shape(self, identity: Identity, name: str, spec: VectorSpec) -> None:
        """Refuse a dimension or distance that contradicts the model's registered one."""
        record = self.models.get(identity)
        if record is None or spec.size is None:
            return
        if record.dimension and record.dimension != spec.size:
            raise InvalidArgument(
                f"vector {name or '(default)'} is declared with {spec.size} dimensions, but "
                f"{identity} is registered with {record.dimension}; declare "
                f"size={record.dimension}",
                reason="model_shape",
            )
        if record.distance and record.distance != spec.distance:
            raise InvalidArgument(
                f"vector {name or '(default)'} is declared with distance {spec.distance}, but "
                f"{identity} is registered with {record.distance}",
                reason="model_shape",
            )

    async def _alias(self, alias: str, physical: str) -> None:
        change = cpb.ChangeAliases()
        change.actions.add().create_alias.CopyFrom(
            cpb.CreateAlias(collection_name=physical, alias_name=alias)
        )
        await self.backend.handle("/qdrant.Collections/UpdateAliases", change)

    async def _drop(self, physical: str) -> None:
        await self.backend.handle(
            "/qdrant.Collections/Delete", cpb.DeleteCollection(collection_name=physical)
        )

    # -- read -----------------------------------------------------------------------------

    def _partition(self, env: Envelope) -> tuple[LogicalCollection, Partition]:
        logical = self.registry.resolve(env.request.collection_name)
        env.logical = logical
        partition = choose_partition(logical, env.claim, needs_identity=False, what=env.op.label)
        env.partition = partition
        return logical, partition

    async def get(self, env: Envelope) -> Any:
        """Collection info of the identity's version, or of the active one."""
        _, partition = self._partition(env)
        request = cpb.GetCollectionInfoRequest(collection_name=partition.physical)
        response = await self._call(partition, "/qdrant.Collections/Get", request)
        metadata = response.result.config.metadata
        if METADATA_KEY in metadata:
            del metadata[METADATA_KEY]
        return response

    async def list(self, env: Envelope) -> Any:
        """Logical collection names only."""
        await self.registry.fresh(env.started)  # replicas: see what others did
        start = time.perf_counter()
        response = cpb.ListCollectionsResponse()
        for name in sorted(self.registry.state.collections):
            response.collections.add(name=name)
        response.time = _elapsed(start)
        return response

    async def exists(self, env: Envelope) -> Any:
        """Whether a logical collection of that name exists."""
        await self.registry.fresh(env.started)  # replicas: see what others did
        start = time.perf_counter()
        exists = env.request.collection_name in self.registry.state.collections
        return cpb.CollectionExistsResponse(
            result=cpb.CollectionExists(exists=exists), time=_elapsed(start)
        )

    async def _call(self, partition: Partition, method: str, request: Any) -> Any:
        try:
            return await self.backend.handle(method, request)
        except VecgateError as exc:
            exc.message = exc.message.replace(partition.physical, partition.logical)
            raise

    # -- update and delete -------------------------------------------------------------------

    async def update(self, env: Envelope) -> Any:
        """Apply collection parameters to the identity's version, or to every version."""
        start = time.perf_counter()
        _check_user_metadata(env.request.metadata)
        logical = self.registry.resolve(env.request.collection_name)
        env.logical = logical
        targets = (
            logical.partitions
            if env.claim.empty
            else [choose_partition(logical, env.claim, needs_identity=False, what=env.op.label)]
        )
        for partition in targets:
            request = type(env.request)()
            request.CopyFrom(env.request)
            request.collection_name = partition.physical
            await self._call(partition, "/qdrant.Collections/Update", request)
        return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))

    async def delete(self, env: Envelope) -> Any:
        """Delete one version (with identity) or the whole logical collection (without)."""
        start = time.perf_counter()
        name = env.request.collection_name
        async with self.registry.lock:
            state = await self.registry.refresh()
            logical = state.collections.get(name)
            if logical is None:
                return cpb.CollectionOperationResponse(result=False, time=_elapsed(start))
            env.logical = logical
            if env.claim.empty or len(logical.partitions) == 1:
                doomed = [p for p in logical.partitions if p is not logical.active]
                doomed += [logical.active] if logical.active else []
            else:
                partition = choose_partition(
                    logical, env.claim, needs_identity=False, what=env.op.label
                )
                if partition is logical.active:
                    raise FailedPrecondition(
                        f"{partition.label()} is the active version of `{name}` and other "
                        f"versions exist ({logical.versions_text()}); cut over to another "
                        "version first, or delete the whole collection without an identity",
                        reason="delete_active",
                    )
                doomed = [partition]
            # Inactive partitions first, the active one (and with it its aliases) last:
            # an interruption leaves a smaller but still consistent logical collection.
            for partition in doomed:
                await self._drop(partition.physical)
            # A bridge answering from a deleted partition goes with it; one mapping from
            # it stays (a bridge also serves a version that has no index of its own).
            await drop_bridges(
                self.registry.bridge_store, {p.physical for p in doomed}, targets_only=True
            )
            await self.registry.refresh()
        return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))

    # -- aliases ------------------------------------------------------------------------------

    async def update_aliases(self, env: Envelope) -> Any:
        """Create, rename and delete user aliases of logical collections, all or nothing."""
        start = time.perf_counter()
        async with self.registry.lock:
            state = await self.registry.refresh()
            change = cpb.ChangeAliases()
            change.CopyFrom(env.request)
            for action in change.actions:
                kind = action.WhichOneof("action")
                if kind == "create_alias":
                    create = action.create_alias
                    self._check_alias_name(create.alias_name, state.collections)
                    logical = self.registry.resolve(create.collection_name)
                    if logical.active is None:
                        raise FailedPrecondition(
                            f"collection `{logical.name}` has no active version"
                        )
                    create.collection_name = logical.active.physical
                elif kind == "rename_alias":
                    self._check_user_alias(action.rename_alias.old_alias_name, state.aliases)
                    self._check_alias_name(action.rename_alias.new_alias_name, state.collections)
                elif kind == "delete_alias":
                    self._check_user_alias(action.delete_alias.alias_name, state.aliases)
            await self.backend.handle("/qdrant.Collections/UpdateAliases", change)
            await self.registry.refresh()
        return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))

    @staticmethod
    def _check_alias_name(alias: str, collections: dict[str, LogicalCollection]) -> None:
        if alias in collections or alias.startswith(PREFIX):
            raise AlreadyExists(
                f"Wrong input: Collection `{alias}` already exists! (an alias cannot take "
                "the name of a collection)",
                reason="name_taken",
            )

    @staticmethod
    def _check_user_alias(alias: str, aliases: dict[str, str]) -> None:
        if alias not in aliases:
            raise NotFound(f"Not found: Alias `{alias}` doesn't exist!", reason="no_alias")

    async def list_aliases(self, env: Envelope) -> Any:
        """Every user alias with the logical collection it names."""
        await self.registry.fresh(env.started)  # replicas: see what others did
        start = time.perf_counter()
        response = cpb.ListAliasesResponse()
        for alias, logical in sorted(self.registry.state.aliases.items()):
            response.aliases.add(alias_name=alias, collection_name=logical)
        response.time = _elapsed(start)
        return response

    async def list_collection_aliases(self, env: Envelope) -> Any:
        """The user aliases of one logical collection."""
        await self.registry.fresh(env.started)  # replicas: see what others did
        start = time.perf_counter()
        logical = self.registry.resolve(env.request.collection_name)
        response = cpb.ListAliasesResponse()
        for alias in logical.aliases:
            response.aliases.add(alias_name=alias, collection_name=logical.name)
        response.time = _elapsed(start)
        return response
