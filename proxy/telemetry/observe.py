"""The end of every request: its span, its log line, its metrics and its inspection record.

    telemetry = Telemetry(config, models, backend_kind="embedded")
    handle = telemetry.begin(env)          # trace ids (and the server span, if tracing)
    ...                                    # the chain runs
    telemetry.finish(env, error, handle)   # span ended, line logged, counted, recorded

With export off no span is made: the trace id is the client's (from `traceparent`)
or a fresh random one, so logs and `vecgate inspect` still correlate.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import grpc

from proxy.filters.deprecation import utc_today
from proxy.logs import log_request
from proxy.telemetry.inspection import Inspection, RequestRecord
from proxy.telemetry.metrics import Metrics
from proxy.telemetry.propagation import (
    TRACEPARENT,
    new_ids,
    reset_passthrough,
    set_passthrough,
)

if TYPE_CHECKING:
    from proxy.config import Config
    from proxy.envelope import Envelope
    from proxy.errors import VecgateError
    from proxy.models import ModelRegistry
    from proxy.telemetry.tracing import Tracing

OTHER_IDENTITY = "other"


def stated_identity(env: Envelope) -> str:
    """The model version a request reached, else the one it stated ("" if none)."""
    if env.partition is not None:
        return env.partition.label()
    claim = env.claim
    if claim.general is not None:
        return str(claim.general)
    if claim.per_name:
        return ", ".join(f"{name}={ident}" for name, ident in sorted(claim.per_name.items()))
    return ""


def vector_counts(env: Envelope) -> tuple[int, int]:
    """(vectors the request carries, their dimension; 0 if mixed or none). Counts only."""
    partition = env.partition
    if env.shape is not None:
        vectors = env.shape.vectors
        count = len(vectors)
        sizes = {len(v.dense) for v in vectors if v.dense is not None}
        return count, sizes.pop() if len(sizes) == 1 else 0
    if not env.points or partition is None:
        return 0, 0
    specs = partition.vectors
    if len(specs) == 1:  # every written point carries the one vector
        spec = next(iter(specs.values()))
        return env.points, spec.size or 0
    from proxy.frontend.walk import point_vector_names

    return sum(len(point_vector_names(p)) for _, p in env.written), 0


class Telemetry:
    """Tracing (when exported), request log, metrics and the inspection record."""

    def __init__(self, config: Config, models: ModelRegistry, *, backend_kind: str) -> None:
        settings = config.telemetry
        self.tracing: Tracing | None = None
        if settings.endpoint:
            from proxy.telemetry.tracing import Tracing

            self.tracing = Tracing(settings, backend_kind=backend_kind)
        self.inspection = Inspection(settings.inspect_records)
        self.models = models
        self.metrics = Metrics(models, config.deprecation, utc_today)
        self.log_requests = config.server.log_requests

    def begin(self, env: Envelope) -> Any:
        """Give the request its trace ids; with tracing, start and enter its server span."""
        if self.tracing is not None:
            return self.tracing.begin(env)
        env.trace_id, env.span_id = new_ids(env.metadata.get(TRACEPARENT))
        return set_passthrough(env.metadata)

    def backend_call(self, method: str, partition: str | None) -> AbstractContextManager[Any]:
        """The child span around a backend call, for ``with`` (a no-op without tracing)."""
        if self.tracing is None:
            return _NOTHING
        return self.tracing.backend_span(method, partition)

    def finish(self, env: Envelope, error: VecgateError | None, handle: Any) -> None:
        """Close the request: its span now; its metrics, log line and inspection record
        just after the response is on its way (`record`, on the event loop's next turn).

        The gRPC server starts sending the response as soon as the handler returns, in
        the same step of the event loop; the rest of the bookkeeping then runs while the
        response travels, not before it. Anything the client does after reading the
        response arrives later on the same loop, so it finds the request recorded.
        """
        seconds = time.perf_counter() - env.started
        code = error.code if error is not None else grpc.StatusCode.OK
        message = error.message if error is not None else ""
        sampled = False
        if self.tracing is not None:
            span, token = handle
            sampled = span.sampled
            self.tracing.end(
                span, token, self._span_attributes(env) if sampled else {}, code, message
            )
        else:
            reset_passthrough(handle)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside a server (a test): record at once
            self.record(env, code, message, seconds, sampled)
            return
        loop.call_soon(self.record, env, code, message, seconds, sampled)

    def _span_attributes(self, env: Envelope) -> dict[str, Any]:
        """vecgate's attributes on a sampled server span."""
        identity = stated_identity(env)
        vectors, dimension = vector_counts(env)
        logical = env.logical.name if env.logical is not None else ""
        attributes: dict[str, Any] = {
            "vecgate.collection": logical or env.collection or "",
            "vecgate.partition": env.partition.physical if env.partition is not None else "",
            "vecgate.decision": env.decision,
            "vecgate.points": env.points,
            "vecgate.vectors": vectors,
            "vecgate.dimension": dimension,
        }
        if identity:
            attributes.update(_model_attributes(identity))
        if env.reason:
            attributes["vecgate.refusal_reason"] = env.reason
        if env.bridge is not None:
            attributes["vecgate.bridge"] = env.bridge.text
            attributes["vecgate.bridge.from"] = env.bridge.record.source
            attributes["vecgate.bridge.version"] = env.bridge.record.version
        return attributes

    def record(
        self, env: Envelope, code: grpc.StatusCode, message: str, seconds: float, sampled: bool
    ) -> None:
        """Count a finished request, log its line and keep its inspection record."""
        logical = env.logical.name if env.logical is not None else ""
        identity = stated_identity(env)
        partition = env.partition.physical if env.partition is not None else ""
        bridge = env.bridge.text if env.bridge is not None else ""
        self.metrics.observe(
            env.op.label,
            env.decision,
            logical,
            self.metric_identity(env, identity),
            seconds,
            reason=env.reason,
            code=code.name,
            points=env.points,
        )
        if env.bridge is not None and code is grpc.StatusCode.OK:
            record = env.bridge.record
            self.metrics.bridged.labels(logical, record.source, record.target).inc()
        latency_ms = round(seconds * 1000, 3)
        if self.log_requests:
            log_request(
                {
                    "method": env.op.label,
                    "collection": env.collection,
                    "partition": partition or None,
                    "identity": identity or None,
                    "identity_source": env.claim.source,
                    "decision": env.decision,
                    "reason": env.reason,
                    "bridge": bridge or None,
                    "status": code.name,
                    "points": env.points or None,
                    "latency_ms": latency_ms,
                    "policy_ms": round(env.policy_seconds * 1000, 3),
                    "backend_ms": round(env.backend_seconds * 1000, 3),
                    "trace_id": env.trace_id,
                    "span_id": env.span_id,
                }
            )
        inspection = self.inspection
        if inspection.wanted:
            vectors, dimension = vector_counts(env)
            inspection.add(
                RequestRecord(
                    seq=inspection.next_seq(),
                    at=time.time(),
                    method=env.op.label,
                    collection=env.collection or "",
                    logical=logical,
                    partition=partition,
                    identity=identity,
                    identity_source=env.claim.source,
                    key=env.key_name or "",
                    decision=env.decision,
                    reason=env.reason or "",
                    status=code.name,
                    message=message,
                    latency_ms=latency_ms,
                    policy_ms=round(env.policy_seconds * 1000, 3),
                    backend_ms=round(env.backend_seconds * 1000, 3),
                    trace_id=env.trace_id,
                    span_id=env.span_id,
                    sampled=sampled,
                    points=env.points,
                    vectors=vectors,
                    dimension=dimension,
                    warnings=tuple(env.warnings),
                    bridge=bridge,
                )
            )

    def metric_identity(self, env: Envelope, identity: str) -> str:
        """`identity` as a metrics label, from a bounded set.

        A routed request's version, or a stated one the model registry knows, is kept;
        any other stated identity is counted as "other", so that clients sending
        arbitrary `x-embedding-model` values cannot grow the metrics without bound
        (the inspection record and the log line keep what was stated).
        """
        if env.partition is not None or not identity:
            return identity
        general = env.claim.general
        if general is not None and not env.claim.per_name and self.models.get(general):
            return identity
        return OTHER_IDENTITY

    def close(self) -> None:
        """End live followers; export queued spans (blocks up to the exporter's timeout)."""
        self.inspection.close()
        if self.tracing is not None:
            self.tracing.shutdown()


def _model_attributes(identity: str) -> dict[str, str]:
    """``minilm@2`` -> model minilm, version 2; a binding of several models stays whole."""
    if "," in identity or "=" in identity:
        return {"vecgate.model": identity}
    model, _, version = identity.rpartition("@")
    return {"vecgate.model": model, "vecgate.version": version}


_NOTHING: AbstractContextManager[None] = nullcontext()
