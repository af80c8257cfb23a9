"""The fast OTLP encoder writes exactly what the stock encoder writes, or defers to it."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from proxy.telemetry.otlp_wire import encode


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans):
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def make_spans(**extra) -> list[ReadableSpan]:
    keep = Keep()
    provider = TracerProvider(resource=Resource.create({"service.name": "vecgate"}))
    provider.add_span_processor(SimpleSpanProcessor(keep))
    tracer = provider.get_tracer("vecgate", "0.1.0")
    remote = set_span_in_context(
        NonRecordingSpan(
            SpanContext(
                0x4BF92F3577B34DA6A3CE929D0E0E4736,
                0xF067AA0BA902B7,
                True,
                TraceFlags(1),
                TraceState([("vendor", "1"), ("other", "x-y")]),
            )
        )
    )
    attributes = {
        "rpc.system": "grpc",
        "rpc.grpc.status_code": 9,
        "vecgate.points": 0,
        "vecgate.dimension": 384,
        "negative": -5,
        "ratio": 0.25,
        "yes": True,
        "no": False,
        "text": "é ✓ `docs`",
        **extra,
    }
    for i in range(40):
        server = tracer.start_span(
            f"qdrant.Points/Query{i % 3}",
            context=remote if i % 2 else None,
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
        child = tracer.start_span(
            "embedded qdrant.Points/Query", context=set_span_in_context(server)
        )
        if i % 3 == 0:
            child.set_status(Status(StatusCode.ERROR, "INTERNAL: the backend failed"))
        child.end()
        server.end()
    provider.shutdown()
    return keep.spans


def test_vecgate_spans_encode_byte_for_byte_like_the_stock_encoder():
    """Server and child spans, remote and local parents, error statuses, every scalar type."""
    spans = make_spans()
    assert encode(spans).SerializeToString() == encode_spans(spans).SerializeToString()
    assert encode(spans).SerializeToString() == encode(spans).SerializeToString()  # cached pairs


def test_other_shapes_fall_back_to_the_stock_encoder():
    """A list attribute (or an event) is outside the fast path: the stock output is used."""
    spans = make_spans(tags=["a", "b"])
    assert encode(spans) == encode_spans(spans)
    assert encode([]) == encode_spans([])
