"""OpenTelemetry tracing: one server span per RPC, one child span per backend call.

Built only when export is on (`[telemetry] endpoint`); with it off, no span is made
at all. Spans follow the RPC semantic conventions (`rpc.system`, `rpc.service`,
`rpc.method`, `rpc.grpc.status_code`) and carry vecgate's decision as `vecgate.*`
attributes. Client faults leave the span status unset; server faults set ERROR.

vecgate's two spans per request have a fixed shape (known attributes, no events or
links), so they are not made through the SDK's `Tracer` (span objects with locks,
per-attribute validation, a copy at the end, context attach/detach: ~90 µs a
request). A span here is its ids and start time while it runs; when it ends
sampled, it becomes the SDK's `ReadableSpan`, handed to the SDK's
`BatchSpanProcessor` and OTLP exporter as the SDK's own spans would be. What the
SDK would decide is kept: the sampler (`make_sampler` semantics, held equal to it by
a unit test), the resource (``OTEL_RESOURCE_ATTRIBUTES``), the span limits
(``OTEL_SPAN_ATTRIBUTE_*``) and batching (``OTEL_BSP_*``). The current span is held
in a context variable of vecgate's (`propagation.CURRENT`), which is what a remote
backend's `trace_headers()` reads.
"""

from __future__ import annotations

import random
import sys
import time
from contextvars import Token
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from proxy.errors import VecgateError
from proxy.frontend.ops import OPS
from proxy.telemetry.otlp_wire import FastOTLPSpanExporter
from proxy.telemetry.propagation import CURRENT, TRACEPARENT, extract_parent
from proxy.telemetry.status import is_server_fault
from proxy.version import VECGATE_VERSION

if TYPE_CHECKING:
    from proxy.config import TelemetryConfig
    from proxy.envelope import Envelope

SAMPLED = TraceFlags(TraceFlags.SAMPLED)
NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
UNSET = Status(StatusCode.UNSET)
_TRACE_ID_LIMIT = (1 << 64) - 1
_ATTRIBUTE_CACHE_LIMIT = 4096


def make_sampler(config: TelemetryConfig) -> Sampler:
    """The SDK sampler `config` asks for: TraceIdRatioBased(sample_ratio) (ALWAYS_ON at
    1.0), parent-based unless `follow_parent` is off. `Tracing` decides as it would."""
    ratio = ALWAYS_ON if config.sample_ratio >= 1.0 else TraceIdRatioBased(config.sample_ratio)
    return ParentBased(ratio) if config.follow_parent else ratio


def _rpc_attributes(method: str) -> dict[str, Any]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


def _new_id(bits: int) -> int:
    """A random non-zero id (the SDK's RandomIdGenerator)."""
    value = random.getrandbits(bits)
    while not value:
        value = random.getrandbits(bits)
    return value


class ServerSpan:
    """A request's server span while it runs (ended by `Tracing.end`)."""

    __slots__ = ("context", "name", "parent", "start")

    def __init__(self, context: SpanContext, parent: SpanContext | None, name: str) -> None:
        self.context, self.parent, self.name = context, parent, name
        self.start = time.time_ns()

    @property
    def sampled(self) -> bool:
        """Whether the span will be exported."""
        return self.context.trace_flags.sampled


class Tracing:
    """vecgate's spans, exported over OTLP gRPC through the SDK's batch processor."""

    def __init__(
        self,
        config: TelemetryConfig,
        *,
        backend_kind: str,
        exporter: SpanExporter | None = None,
    ) -> None:
        self.resource = Resource.create(
            {"service.name": config.service_name, "service.version": VECGATE_VERSION}
        )
        self.scope = InstrumentationScope("vecgate", VECGATE_VERSION)
        if exporter is None:
            assert config.endpoint is not None
            exporter = FastOTLPSpanExporter(
                endpoint=config.endpoint, headers=config.headers or None
            )
        self.processor = BatchSpanProcessor(exporter)
        ratio = config.sample_ratio
        self.root_bound = (
            _TRACE_ID_LIMIT + 1 if ratio >= 1.0 else TraceIdRatioBased.get_bound_for_rate(ratio)
        )
        self.follow_parent = config.follow_parent
        limits = SpanLimits()
        self.max_attributes = limits.max_span_attributes  # None: no limit
        self.max_length = limits.max_span_attribute_length
        self.attribute_cap = sys.maxsize if self.max_attributes is None else self.max_attributes
        self.backend_kind = backend_kind
        in_process = backend_kind == "embedded"
        self.backend_span_kind = SpanKind.INTERNAL if in_process else SpanKind.CLIENT
        self._rpc = {method: _rpc_attributes(method) for method in OPS}
        self._backend: dict[tuple[str, str | None, int], tuple[str, dict[str, Any]]] = {}

    def sampled(self, trace_id: int, parent: SpanContext | None) -> bool:
        """The sampling decision for a new server span: the parent's flag (parent-based),
        else the trace id against the ratio's bound (TraceIdRatioBased)."""
        if parent is not None and self.follow_parent:
            return parent.trace_flags.sampled
        return trace_id & _TRACE_ID_LIMIT < self.root_bound

    def begin(self, env: Envelope) -> tuple[ServerSpan, Token[SpanContext | None]]:
        """Start the server span of a request (continuing the client's trace) and make it
        current; returns the span and the token `end` needs."""
        parent = extract_parent(env.metadata) if TRACEPARENT in env.metadata else None
        if parent is None:
            trace_id, state = _new_id(128), None
        else:
            trace_id, state = parent.trace_id, parent.trace_state
        span_id = _new_id(64)
        flags = SAMPLED if self.sampled(trace_id, parent) else NOT_SAMPLED
        context = SpanContext(trace_id, span_id, False, flags, state)
        span = ServerSpan(context, parent, env.op.method[1:])
        env.trace_id = f"{trace_id:032x}"
        env.span_id = f"{span_id:016x}"
        return span, CURRENT.set(context)

    def end(
        self,
        span: ServerSpan,
        token: Token[SpanContext | None],
        attributes: dict[str, Any],
        code: grpc.StatusCode,
        message: str,
    ) -> None:
        """Set the outcome on the server span, end it and restore the previous context.

        `attributes` are vecgate's; the RPC ones and the status code are added here."""
        try:
            if span.context.trace_flags.sampled:
                method = "/" + span.name
                rpc = self._rpc.get(method) or _rpc_attributes(method)
                attributes = {**rpc, **attributes, "rpc.grpc.status_code": code.value[0]}
                status = Status(StatusCode.ERROR, message) if is_server_fault(code) else UNSET
                self.emit(
                    span.name,
                    span.context,
                    span.parent,
                    SpanKind.SERVER,
                    attributes=attributes,
                    status=status,
                    start=span.start,
                )
        finally:
            CURRENT.reset(token)

    def emit(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        *,
        attributes: dict[str, Any],
        status: Status,
        start: int,
    ) -> None:
        """Hand one ended, sampled span to the batch processor."""
        if len(attributes) > self.attribute_cap or self.max_length is not None:
            attributes = BoundedAttributes(  # type: ignore[assignment]
                self.max_attributes, attributes, max_value_len=self.max_length
            )
        self.processor.on_end(
            ReadableSpan(
                name,
                context,
                parent,
                self.resource,
                attributes,
                (),
                (),
                kind,
                None,
                status,
                start,
                time.time_ns(),
                self.scope,
            )
        )

    def backend_attributes(
        self, method: str, partition: str | None, code: int
    ) -> tuple[str, dict[str, Any]]:
        """The name and attributes of a backend span (cached: they repeat; never mutated).
        The embedded engine is not an RPC: its span has no `rpc.*` attributes."""
        key = (method, partition, code)
        found = self._backend.get(key)
        if found is None:
            attributes: dict[str, Any] = {"vecgate.backend": self.backend_kind}
            if self.backend_span_kind is SpanKind.CLIENT:
                attributes.update(self._rpc.get(method, {}))
            if partition:
                attributes["vecgate.partition"] = partition
            if code >= 0:
                attributes["rpc.grpc.status_code"] = code
            if len(self._backend) >= _ATTRIBUTE_CACHE_LIMIT:
                self._backend.clear()
            found = self._backend[key] = (f"{self.backend_kind} {method.lstrip('/')}", attributes)
        return found

    def backend_span(self, method: str, partition: str | None) -> BackendSpan:
        """A child span around one backend call (current while it runs, so a remote
        backend's `trace_headers()` names it as the parent)."""
        return BackendSpan(self, method, partition)

    def shutdown(self) -> None:
        """Export what is queued, then stop (blocks up to the exporter's timeout)."""
        self.processor.shutdown()  # type: ignore[no-untyped-call]


class BackendSpan:
    """``with`` (a plain context manager: no coroutines per call): a span current for the
    duration of one backend call; a `VecgateError` sets its status code (and ERROR for a
    server fault), then propagates."""

    __slots__ = ("context", "method", "parent", "partition", "start", "token", "tracing")

    def __init__(self, tracing: Tracing, method: str, partition: str | None) -> None:
        self.tracing, self.method, self.partition = tracing, method, partition

    def __enter__(self) -> SpanContext:
        parent = CURRENT.get()
        if parent is None:  # outside a request: a root span of its own
            trace_id = _new_id(128)
            sampled = self.tracing.sampled(trace_id, None)
            context = SpanContext(trace_id, _new_id(64), False, SAMPLED if sampled else NOT_SAMPLED)
        else:  # parent-based or ratio on the same trace id: the parent's decision
            context = SpanContext(
                parent.trace_id, _new_id(64), False, parent.trace_flags, parent.trace_state
            )
        self.parent, self.context = parent, context
        self.start = time.time_ns()
        self.token = CURRENT.set(context)
        return context

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        context = self.context
        try:
            if context.trace_flags.sampled:
                status = UNSET
                if exc is None:
                    code = 0
                elif isinstance(exc, VecgateError):
                    code = exc.code.value[0]
                    if is_server_fault(exc.code):
                        status = Status(StatusCode.ERROR, exc.message)
                else:
                    code = -1
                    status = Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
                tracing = self.tracing
                name, attributes = tracing.backend_attributes(self.method, self.partition, code)
                tracing.emit(
                    name,
                    context,
                    self.parent,
                    tracing.backend_span_kind,
                    attributes=attributes,
                    status=status,
                    start=self.start,
                )
        finally:
            CURRENT.reset(self.token)
