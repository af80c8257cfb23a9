"""The terminal of the chain: answer health, refuse the unsupported, run catalog
operations, and send data requests to the backend under their partition's name."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from qdrant_client.grpc import qdrant_pb2

from adapters.base import Backend
from proxy.collection_ops import CollectionOps
from proxy.envelope import Envelope
from proxy.errors import Internal, Unimplemented, VecgateError
from proxy.frontend.ops import BATCH_ITEMS, Kind, unsupported_reason
from proxy.version import QDRANT_PROTOCOL_VERSION, QDRANT_TITLE, VECGATE_VERSION

if TYPE_CHECKING:
    from proxy.telemetry.observe import Telemetry


class Router:
    """Dispatches a request that passed every filter."""

    def __init__(
        self, backend: Backend, catalog: CollectionOps, telemetry: Telemetry | None = None
    ) -> None:
        self.backend = backend
        self.catalog = catalog
        self.telemetry = telemetry

    async def __call__(self, env: Envelope) -> Any:
        """Produce the response of one request."""
        kind = env.op.kind
        if kind is Kind.HEALTH:
            env.decision = "served"
            return qdrant_pb2.HealthCheckReply(
                title=QDRANT_TITLE,
                version=QDRANT_PROTOCOL_VERSION,
                commit=f"vecgate-{VECGATE_VERSION}",
            )
        if kind is Kind.UNSUPPORTED:
            raise Unimplemented(unsupported_reason(env.op), reason="unsupported_rpc")
        if kind is Kind.CATALOG:
            if self.telemetry is None:
                return await self.catalog.handle(env)
            with self.telemetry.backend_call(env.op.method, None):
                return await self.catalog.handle(env)
        return await self._forward(env)

    async def _forward(self, env: Envelope) -> Any:
        partition = env.partition
        if partition is None:
            raise Internal(f"{env.op.label} reached the router without a partition")
        request = env.request
        request.collection_name = partition.physical
        items = BATCH_ITEMS.get(env.op.name)
        if items:
            for item in getattr(request, items):
                item.collection_name = partition.physical
        op = env.backend_op or env.op
        packed = env.packed if env.backend_op is None else None  # an Upsert's points, read
        if packed is None and env.packed is not None and env.packed.tags is not None:
            raise Internal(f"{env.op.label}: its tag entries would not reach the backend")
        start = time.perf_counter()
        timeout = env.extra.get("timeout")
        try:
            if self.telemetry is None:
                return await self.backend.handle(op.method, request, timeout=timeout, packed=packed)
            with self.telemetry.backend_call(op.method, partition.physical):
                return await self.backend.handle(op.method, request, timeout=timeout, packed=packed)
        except VecgateError as exc:
            exc.message = exc.message.replace(partition.physical, partition.logical)
            raise
        finally:
            env.backend_seconds = time.perf_counter() - start
