"""The `vecgate.v1.Admin` service: collections, models, keys, explain, status.

Every call needs an admin key in the `api-key` metadata (a configured key with the
admin role, or the quick-start `--admin-key`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import grpc
from qdrant_client.grpc import points_pb2 as ppb

from adapters.base import Backend
from proxy.admin.explain import explain
from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.chain import Filter
from proxy.config import Config, KeyConfig
from proxy.errors import InvalidArgument, PermissionDenied, Unauthenticated, VecgateError
from proxy.filters.authenticate import find_key
from proxy.filters.deprecation import utc_today
from proxy.identity import Identity
from proxy.models import ModelRecord, ModelRegistry, check_distance, parse_sunset
from proxy.registry import LogicalCollection, Partition, Registry
from proxy.version import QDRANT_PROTOCOL_VERSION, VECGATE_VERSION

Context = grpc.aio.ServicerContext[Any, Any]


class AdminService(admin_pb2_grpc.AdminServicer):
    """Answers the admin API from the registry, the model registry and the backend."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        registry: Registry,
        models: ModelRegistry,
        filters: Sequence[Filter],
    ) -> None:
        self.config = config
        self.backend = backend
        self.registry = registry
        self.models = models
        self.filters = filters
        self.keys = {key.sha256: key for key in config.keys}
        self.started = time.monotonic()

    # -- plumbing ---------------------------------------------------------------------------

    def _authorise(self, context: Context) -> KeyConfig:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        presented = metadata.get("api-key")
        if not presented:
            raise Unauthenticated(
                "the admin API needs an admin key in the api-key metadata (configure a key "
                "with role = admin, or start vecgate with --admin-key / VECGATE_ADMIN_KEY)",
                reason="no_admin_key",
            )
        key = find_key(self.keys, presented)
        if key.role != "admin":
            raise PermissionDenied(
                f"api key {key.name!r} has the role {key.role}; the admin API needs role admin",
                reason="role",
            )
        return key

    async def _guarded(self, context: Context, work: Any) -> Any:
        try:
            self._authorise(context)
            return await work()
        except VecgateError as error:
            await context.abort(error.code, error.message)

    # -- collections -------------------------------------------------------------------------

    async def _points(self, partition: Partition) -> int:
        reply = await self.backend.handle(
            "/qdrant.Points/Count",
            ppb.CountPoints(collection_name=partition.physical, exact=True),
        )
        return int(reply.result.count)

    async def _collection_view(self, logical: LogicalCollection) -> Any:
        view = admin_pb2.CollectionView(
            name=logical.name,
            active=logical.active.label() if logical.active else "",
            aliases=logical.aliases,
        )
        counts = await asyncio.gather(*(self._points(p) for p in logical.partitions))
        for partition, points in zip(logical.partitions, counts, strict=True):
            version = view.versions.add(
                identity=partition.label(),
                points=points,
                state="active" if partition is logical.active else "inactive",
                created=partition.created,
                partition=partition.physical,
            )
            for name, spec in sorted(partition.vectors.items()):
                identity = partition.binding[name]
                version.vectors.add(
                    name=name,
                    model=identity.model,
                    version=identity.version,
                    dimension=spec.size or 0,
                    distance=spec.distance,
                    sparse=spec.sparse,
                    multivector=spec.multivector,
                )
        return view

    async def ListCollections(self, request: Any, context: Context) -> Any:
        """Every logical collection with its versions."""

        async def work() -> Any:
            state = await self.registry.refresh()
            reply = admin_pb2.ListCollectionsReply()
            for name in sorted(state.collections):
                reply.collections.append(await self._collection_view(state.collections[name]))
            return reply

        return await self._guarded(context, work)

    async def DescribeCollection(self, request: Any, context: Context) -> Any:
        """One logical collection, by name or user alias."""

        async def work() -> Any:
            await self.registry.refresh()
            return await self._collection_view(self.registry.resolve(request.name))

        return await self._guarded(context, work)

    # -- models ------------------------------------------------------------------------------

    def _model_view(self, record: ModelRecord) -> Any:
        today = utc_today()
        days = record.days_to_sunset(today)
        users = sorted(
            logical.name
            for logical in self.registry.state.collections.values()
            if any(record.identity in p.binding.values() for p in logical.partitions)
        )
        return admin_pb2.ModelView(
            name=record.identity.model,
            version=record.identity.version,
            dimension=record.dimension,
            distance=record.distance,
            digest=record.digest,
            sunset=record.sunset.isoformat() if record.sunset else "",
            notes=record.notes,
            source=record.source,
            deprecation=record.deprecation(today, self.config.deprecation),
            days_to_sunset=days or 0,
            collections=users,
        )

    async def ListModels(self, request: Any, context: Context) -> Any:
        """Known models, flagged near or past their sunset."""

        async def work() -> Any:
            await self.models.refresh()
            await self.registry.refresh()
            return admin_pb2.ListModelsReply(
                models=[self._model_view(record) for record in self.models.all()]
            )

        return await self._guarded(context, work)

    def _identity(self, text: str) -> Identity:
        return self.config.pin_policy().parse(text, where="model")

    async def RegisterModel(self, request: Any, context: Context) -> Any:
        """Register a pinned model version with its shape."""

        async def work() -> Any:
            if request.dimension < 1:
                raise InvalidArgument("dimension must be a positive number of dimensions")
            if not request.distance:
                raise InvalidArgument("distance is required: Cosine, Euclid, Dot or Manhattan")
            record = ModelRecord(
                identity=self._identity(request.model),
                dimension=request.dimension,
                distance=check_distance(request.distance),
                digest=request.digest,
                sunset=parse_sunset(request.sunset),
                notes=request.notes,
            )
            return self._model_view(await self.models.register(record))

        return await self._guarded(context, work)

    async def UpdateModel(self, request: Any, context: Context) -> Any:
        """Change the digest, sunset date or notes of a registered model."""

        async def work() -> Any:
            record = await self.models.update(
                self._identity(request.model),
                digest=request.digest if request.HasField("digest") else None,
                sunset=request.sunset if request.HasField("sunset") else None,
                notes=request.notes if request.HasField("notes") else None,
            )
            return self._model_view(record)

        return await self._guarded(context, work)

    # -- explain, keys, status -------------------------------------------------------------------

    async def Explain(self, request: Any, context: Context) -> Any:
        """Dry run of the routing filters."""

        async def work() -> Any:
            await self.registry.refresh()
            if not request.collection:
                raise InvalidArgument("collection is required")
            return explain(self.filters, request)

        return await self._guarded(context, work)

    async def ListKeys(self, request: Any, context: Context) -> Any:
        """Configured keys, never their secret."""

        async def work() -> Any:
            reply = admin_pb2.ListKeysReply()
            for key in self.config.keys:
                reply.keys.add(
                    name=key.name,
                    identity=key.identity or "",
                    role=key.role,
                    collections=key.collections,
                    fingerprint=key.sha256[:8],
                )
            return reply

        return await self._guarded(context, work)

    async def Status(self, request: Any, context: Context) -> Any:
        """Versions, counts, uptime and deprecations."""

        async def work() -> Any:
            state = await self.registry.refresh()
            await self.models.refresh()
            today = utc_today()
            deprecated = [
                self._model_view(r)
                for r in self.models.all()
                if r.deprecation(today, self.config.deprecation)
            ]
            return admin_pb2.StatusReply(
                vecgate_version=VECGATE_VERSION,
                qdrant_api_version=QDRANT_PROTOCOL_VERSION,
                backend=self.backend.kind,
                collections=len(state.collections),
                partitions=len(state.by_physical),
                models=len(self.models.all()),
                keys=len(self.config.keys),
                uptime_seconds=time.monotonic() - self.started,
                deprecations=deprecated,
            )

        return await self._guarded(context, work)
