"""OpenTelemetry tracing: one server span per RPC, one child span per backend call.

Built only when export is on (`[telemetry] endpoint`); with it off, no span is made
at all. Spans follow the RPC semantic conventions (`rpc.system`, `rpc.service`,
`rpc.method`, `rpc.grpc.status_code`) and carry vecgate's decision as `vecgate.*`
attributes. Client faults leave the span status unset; server faults set ERROR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from proxy.errors import VecgateError
from proxy.frontend.ops import OPS
from proxy.telemetry.otlp_wire import FastOTLPSpanExporter
from proxy.telemetry.propagation import TRACEPARENT, W3C
from proxy.telemetry.status import is_server_fault
from proxy.version import VECGATE_VERSION

if TYPE_CHECKING:
    from proxy.config import TelemetryConfig
    from proxy.envelope import Envelope


def make_sampler(config: TelemetryConfig) -> Sampler:
    """TraceIdRatioBased(sample_ratio) (ALWAYS_ON at 1.0: no per-span arithmetic),
    parent-based unless `follow_parent` is off."""
    ratio = ALWAYS_ON if config.sample_ratio >= 1.0 else TraceIdRatioBased(config.sample_ratio)
    return ParentBased(ratio) if config.follow_parent else ratio


def _rpc_attributes(method: str) -> dict[str, Any]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class Tracing:
    """A tracer provider exporting over OTLP gRPC through a batch processor."""

    def __init__(self, config: TelemetryConfig, *, backend_kind: str) -> None:
        assert config.endpoint is not None
        resource = Resource.create(
            {"service.name": config.service_name, "service.version": VECGATE_VERSION}
        )
        self.provider = TracerProvider(resource=resource, sampler=make_sampler(config))
        exporter = FastOTLPSpanExporter(endpoint=config.endpoint, headers=config.headers or None)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("vecgate", VECGATE_VERSION)
        self.backend_kind = backend_kind
        in_process = backend_kind == "embedded"
        self.backend_span_kind = SpanKind.INTERNAL if in_process else SpanKind.CLIENT
        self._rpc = {method: _rpc_attributes(method) for method in OPS}

    def begin(self, env: Envelope) -> tuple[Span, object]:
        """Start the server span of a request (continuing the client's trace) and make it
        current; returns the span and the token `end` needs."""
        parent = W3C.extract(env.metadata) if TRACEPARENT in env.metadata else None
        span = self.tracer.start_span(
            env.op.method[1:],
            context=parent,
            kind=SpanKind.SERVER,
            attributes=self._rpc[env.op.method],
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        context = span.get_span_context()
        env.trace_id = format(context.trace_id, "032x")
        env.span_id = format(context.span_id, "016x")
        return span, token

    @staticmethod
    def end(
        span: Span,
        token: object,
        attributes: dict[str, Any],
        code: grpc.StatusCode,
        message: str,
    ) -> None:
        """Set the outcome on the server span, end it and restore the previous context."""
        try:
            if span.is_recording():
                attributes["rpc.grpc.status_code"] = code.value[0]
                span.set_attributes(attributes)
                if is_server_fault(code):
                    span.set_status(Status(StatusCode.ERROR, message))
            span.end()
        finally:
            otel_context.detach(token)  # type: ignore[arg-type]

    def backend_span(self, method: str, partition: str | None) -> BackendSpan:
        """A child span around one backend call (current while it runs, so a remote
        backend's `trace_headers()` names it as the parent). The embedded engine is not
        an RPC: its span is INTERNAL without the `rpc.*` attributes."""
        attributes: dict[str, Any] = {"vecgate.backend": self.backend_kind}
        if self.backend_span_kind is SpanKind.CLIENT:
            attributes.update(self._rpc.get(method, {}))
        if partition:
            attributes["vecgate.partition"] = partition
        return BackendSpan(
            self.tracer,
            f"{self.backend_kind} {method.lstrip('/')}",
            self.backend_span_kind,
            attributes,
        )

    def shutdown(self) -> None:
        """Export what is queued, then stop (blocks up to the exporter's timeout)."""
        self.provider.shutdown()


class BackendSpan:
    """``async with``: a span current for the duration of one backend call; a
    `VecgateError` sets its status code (and ERROR for a server fault), then propagates."""

    __slots__ = ("attributes", "kind", "name", "span", "token", "tracer")

    def __init__(
        self, tracer: trace.Tracer, name: str, kind: SpanKind, attributes: dict[str, Any]
    ) -> None:
        self.tracer, self.name, self.kind, self.attributes = tracer, name, kind, attributes

    async def __aenter__(self) -> Span:
        self.span = self.tracer.start_span(self.name, kind=self.kind, attributes=self.attributes)
        self.token = otel_context.attach(trace.set_span_in_context(self.span))
        return self.span

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _: Any
    ) -> None:
        span = self.span
        try:
            if span.is_recording():
                if exc is None:
                    span.set_attribute("rpc.grpc.status_code", 0)
                elif isinstance(exc, VecgateError):
                    span.set_attribute("rpc.grpc.status_code", exc.code.value[0])
                    if is_server_fault(exc.code):
                        span.set_status(Status(StatusCode.ERROR, exc.message))
                else:
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
        finally:
            otel_context.detach(self.token)
