"""The gateway: builds the filter chain and serves every Qdrant RPC through it."""

from __future__ import annotations

from typing import Any

import grpc
import structlog

from adapters.base import Backend
from proxy.admission import Admission
from proxy.chain import Chain, Filter
from proxy.collection_ops import CollectionOps
from proxy.config import Config
from proxy.drift.fingerprints import FingerprintBook
from proxy.drift.watch import DriftWatch
from proxy.envelope import Envelope
from proxy.errors import Internal, VecgateError
from proxy.filters.authenticate import Authenticate
from proxy.filters.bridge import TRAILER as BRIDGE_TRAILER
from proxy.filters.bridge import ApplyBridge
from proxy.filters.deprecation import Deprecation
from proxy.filters.drift_feed import DriftFeed
from proxy.filters.identify import Identify
from proxy.filters.limits import Limits
from proxy.filters.route import Route
from proxy.filters.suspect import Suspect
from proxy.filters.tag import Tag
from proxy.filters.validate import Validate
from proxy.frontend.decoding import Received, Undecodable, lenient
from proxy.frontend.ops import OPS, Kind, Op
from proxy.keys import KeyRing
from proxy.models import ModelRegistry
from proxy.registry import Registry
from proxy.router import Router
from proxy.shared_state import SharedState
from proxy.telemetry.observe import Telemetry
from proxy.telemetry.status import is_server_fault

log = structlog.get_logger("vecgate.request")

WARNING_TRAILER = "vecgate-warning"
#: RPCs whose request bytes are kept beside the parsed message: an upsert's points are
#: read from them as received (`proxy.wire_points`, decision 49).
KEEP_BYTES = frozenset({"/qdrant.Points/Upsert"})


def routing_filters(
    config: Config,
    registry: Registry,
    models: ModelRegistry,
    keys: KeyRing,
    fingerprints: FingerprintBook | None = None,
) -> list[Filter]:
    """The steps that decide where a request goes (or why it may not): also `Explain`'s."""
    filters: list[Filter] = [
        Authenticate(keys, registry, allow_anonymous=config.server.allow_anonymous),
        Identify(
            config.pin_policy(),
            keys=keys,
            default=config.identity.default,
            collection_defaults=config.identity.collections,
        ),
        Route(registry),
        Deprecation(models, config.deprecation),
    ]
    if fingerprints is not None:
        filters.append(Suspect(fingerprints, models))
    return filters


#: Refusals that another replica's change (a collection, version or key added a moment
#: ago) can make wrong, raised before any filter rewrote the request.
_ROUTING_REASONS = frozenset({"no_collection", "cross_version", "no_active"})
_KEY_REASONS = frozenset({"unknown_api_key"})


class Gateway:
    """One request path: envelope -> authenticate, identify, route, deprecation, suspect,
    validate, apply bridge, tag, drift feed -> router."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        registry: Registry,
        models: ModelRegistry,
        keys: KeyRing,
        *,
        telemetry: Telemetry | None = None,
        fingerprints: FingerprintBook | None = None,
        watch: DriftWatch | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.registry = registry
        self.models = models
        self.keys = keys
        self.fingerprints = fingerprints
        self.watch = watch
        self.filters = routing_filters(config, registry, models, keys, fingerprints)
        self.catalog = CollectionOps(backend, registry, models)
        self.telemetry = telemetry or Telemetry(config, models, backend_kind=backend.kind)
        limits = config.limits
        self.admission = Admission(
            limits.max_concurrent_requests, limits.max_queued_requests, limits.retry_after_seconds
        )
        self.max_deadline = limits.max_deadline_seconds
        self.default_deadline = config.backend.timeout_seconds
        tag = Tag(config.tags, backend_writes_tags=backend.writes_read_tags)
        tail: list[Filter] = [Limits(config.limits), Validate(), ApplyBridge(), tag]
        if watch is not None:
            tail.append(DriftFeed(watch))
        self.chain = Chain([*self.filters, *tail], Router(backend, self.catalog, self.telemetry))

    def handlers(self) -> list[grpc.GenericRpcHandler[Any, Any]]:
        """One generic handler per Qdrant service, covering every RPC it declares."""
        services: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = {}
        for op in OPS.values():
            services.setdefault(op.service, {})[op.name] = grpc.unary_unary_rpc_method_handler(
                self._unary(op),
                request_deserializer=lenient(op.request_type, keep=op.method in KEEP_BYTES),
                response_serializer=op.response_type.SerializeToString,
            )
        return [grpc.method_handlers_generic_handler(s, m) for s, m in services.items()]

    def _unary(self, op: Op) -> Any:
        has_collection = "collection_name" in op.request_type.DESCRIPTOR.fields_by_name

        async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            received = None
            if type(request) is Received:
                request, received = request.message, request.raw
            elif isinstance(request, Undecodable):
                refusal = request.refusal()
                await context.abort(refusal.code, refusal.message)
            metadata: dict[str, str] = {}
            conflicts: list[str] = []
            for key, value in context.invocation_metadata() or ():
                if not isinstance(value, str):
                    continue
                if metadata.get(key, value) != value:
                    conflicts.append(key)
                metadata[key] = value
            env = Envelope(op, request, metadata, received=received)
            if conflicts:
                env.extra["conflicting_metadata"] = conflicts
            if has_collection:
                env.collection = request.collection_name
            remaining = context.time_remaining()
            env.extra["timeout"] = (
                min(remaining, self.max_deadline) if remaining is not None else None
            )
            return await self.serve(env, context)

        return handler

    async def serve(  # noqa: RET503 - context.abort raises
        self, env: Envelope, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        """Run one request through the chain; turn a refusal into its status."""
        error: VecgateError | None = None
        observed = self.telemetry.begin(env)
        try:
            if env.op.kind is Kind.HEALTH:  # never queued: probes must see a busy server
                response = await self._run(env)
            else:
                async with self.admission.slot(env.extra.get("timeout") or self.default_deadline):
                    response = await self._run(env)
            trailers = [(WARNING_TRAILER, w) for w in env.warnings]
            if env.bridge is not None:
                trailers.append((BRIDGE_TRAILER, env.bridge.text))
            if trailers:
                context.set_trailing_metadata(tuple(trailers))
            return response
        except VecgateError as exc:
            error = exc
            env.decision = "error" if is_server_fault(exc.code) else "refused"
            env.reason = exc.reason
        except Exception as exc:  # a bug: report INTERNAL, never UNKNOWN, and log it
            log.exception("unexpected error", method=env.op.label)
            error = Internal(f"internal error in vecgate: {type(exc).__name__}: {exc}")
            env.decision, env.reason = "error", "internal"
        finally:
            self.telemetry.finish(env, error, observed)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            context.set_trailing_metadata((("retry-after", str(int(retry_after + 0.999))),))
        await context.abort(error.code, error.message)  # raises: never returns

    async def _run(self, env: Envelope) -> Any:
        """The chain's answer; on a shared backend, once more after a stale-state refusal."""
        extra = dict(env.extra) if self.backend.shared else env.extra
        try:
            return await self.chain.run(env)
        except VecgateError as exc:
            state = self._state_behind(env, exc)
            if state is None:
                raise
            seen = state.state
            await state.fresh(env.started)
            if state.state is seen:
                raise  # the refusal was made on current state: it stands
        env.restart(extra)
        return await self.chain.run(env)

    def _state_behind(self, env: Envelope, exc: VecgateError) -> SharedState[Any] | None:
        """The shared state whose re-read could turn this refusal into an answer.

        Only refusals raised before a partition was chosen qualify: lookups are resolved
        (and rewritten) after that, so the request is still as the client sent it.
        """
        if not self.backend.shared or env.partition is not None:
            return None
        if exc.reason in _ROUTING_REASONS:
            return self.registry
        if exc.reason in _KEY_REASONS:
            return self.keys
        return None
