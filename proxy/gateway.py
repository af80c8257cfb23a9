"""The gateway: builds the filter chain and serves every Qdrant RPC through it."""

from __future__ import annotations

import time
from typing import Any

import grpc
import structlog

from adapters.base import Backend
from proxy.chain import Chain, Filter
from proxy.collection_ops import CollectionOps
from proxy.config import Config
from proxy.drift.fingerprints import FingerprintBook
from proxy.drift.watch import DriftWatch
from proxy.envelope import Envelope
from proxy.errors import Internal, VecgateError
from proxy.filters.authenticate import Authenticate
from proxy.filters.deprecation import Deprecation
from proxy.filters.drift_feed import DriftFeed
from proxy.filters.identify import Identify
from proxy.filters.route import Route
from proxy.filters.suspect import Suspect
from proxy.filters.tag import Tag
from proxy.filters.validate import Validate
from proxy.frontend.ops import OPS, Op
from proxy.keys import KeyRing
from proxy.models import ModelRegistry
from proxy.registry import Registry
from proxy.router import Router
from proxy.shared_state import SharedState

log = structlog.get_logger("vecgate.request")

WARNING_TRAILER = "vecgate-warning"


def routing_filters(
    config: Config,
    registry: Registry,
    models: ModelRegistry,
    keys: KeyRing,
    fingerprints: FingerprintBook | None = None,
) -> list[Filter]:
    """The steps that decide where a request goes (or why it may not): also `Explain`'s."""
    filters: list[Filter] = [
        Authenticate(keys, registry),
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
    validate, tag, drift feed -> router."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        registry: Registry,
        models: ModelRegistry,
        keys: KeyRing,
        *,
        fingerprints: FingerprintBook | None = None,
        watch: DriftWatch | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.registry = registry
        self.models = models
        self.keys = keys
        self.filters = routing_filters(config, registry, models, keys, fingerprints)
        self.catalog = CollectionOps(backend, registry, models)
        tail: list[Filter] = [Validate(), Tag(config.tags)]
        if watch is not None:
            tail.append(DriftFeed(watch))
        self.chain = Chain([*self.filters, *tail], Router(backend, self.catalog))
        self.log_requests = config.server.log_requests

    def handlers(self) -> list[grpc.GenericRpcHandler[Any, Any]]:
        """One generic handler per Qdrant service, covering every RPC it declares."""
        services: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = {}
        for op in OPS.values():
            services.setdefault(op.service, {})[op.name] = grpc.unary_unary_rpc_method_handler(
                self._unary(op),
                request_deserializer=op.request_type.FromString,
                response_serializer=op.response_type.SerializeToString,
            )
        return [grpc.method_handlers_generic_handler(s, m) for s, m in services.items()]

    def _unary(self, op: Op) -> Any:
        has_collection = "collection_name" in op.request_type.DESCRIPTOR.fields_by_name

        async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            metadata: dict[str, str] = {}
            conflicts: list[str] = []
            for key, value in context.invocation_metadata() or ():
                if not isinstance(value, str):
                    continue
                if metadata.get(key, value) != value:
                    conflicts.append(key)
                metadata[key] = value
            env = Envelope(op, request, metadata)
            if conflicts:
                env.extra["conflicting_metadata"] = conflicts
            if has_collection:
                env.collection = request.collection_name
            remaining = context.time_remaining()
            if remaining is not None:
                env.extra["timeout"] = remaining
            return await self.serve(env, context)

        return handler

    async def serve(  # noqa: RET503 - context.abort raises
        self, env: Envelope, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        """Run one request through the chain; turn a refusal into its status."""
        error: VecgateError | None = None
        try:
            response = await self._run(env)
            if env.warnings:
                context.set_trailing_metadata(tuple((WARNING_TRAILER, w) for w in env.warnings))
            return response
        except VecgateError as exc:
            error = exc
            env.decision, env.reason = "refused", exc.reason
        except Exception as exc:  # a bug: report INTERNAL, never UNKNOWN, and log it
            log.exception("unexpected error", method=env.op.label)
            error = Internal(f"internal error in vecgate: {type(exc).__name__}: {exc}")
            env.decision, env.reason = "error", "internal"
        finally:
            if self.log_requests:
                self._log(env, error)
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

    def _log(self, env: Envelope, error: VecgateError | None) -> None:
        partition = env.partition
        log.info(
            "request",
            method=env.op.label,
            collection=env.collection,
            partition=partition.physical if partition else None,
            identity=partition.label() if partition else None,
            identity_source=env.claim.source,
            decision=env.decision,
            reason=env.reason,
            status=(error.code.name if error else "OK"),
            points=env.points or None,
            latency_ms=round((time.perf_counter() - env.started) * 1000, 3),
            policy_ms=round(env.policy_seconds * 1000, 3),
            backend_ms=round(env.backend_seconds * 1000, 3),
        )
