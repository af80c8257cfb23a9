"""vecgate makes its spans without the SDK's Tracer: they must come out as the SDK's would.

Sampling decisions equal the SDK sampler's, the client's traceparent/tracestate read as
the SDK's W3C propagator reads them, the spans encode byte for byte like the stock OTLP
encoder's, and the OTEL_SPAN_ATTRIBUTE_* limits apply.
"""

from __future__ import annotations

import random

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy.config import TelemetryConfig
from proxy.envelope import Envelope
from proxy.errors import Unavailable
from proxy.frontend.ops import OPS
from proxy.telemetry.otlp_wire import encode
from proxy.telemetry.propagation import extract_parent, trace_headers
from proxy.telemetry.tracing import Tracing, make_sampler

TID, PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
QUERY = OPS["/qdrant.Points/Query"]


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans):
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def tracing(keep: Keep, backend: str = "qdrant", **settings) -> Tracing:
    config = TelemetryConfig(endpoint="http://127.0.0.1:4317", **settings)
    return Tracing(config, backend_kind=backend, exporter=keep)


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("follow_parent", [True, False])
def test_sampling_decisions_equal_the_sdk_samplers(ratio, follow_parent):
    """No parent, a sampled parent, an unsampled one: the same decision for every id."""
    config = TelemetryConfig(sample_ratio=ratio, follow_parent=follow_parent)
    sdk = make_sampler(config)
    ours = tracing(Keep(), sample_ratio=ratio, follow_parent=follow_parent)
    draw = random.Random(7)
    for _ in range(300):
        trace_id = draw.getrandbits(128) or 1
        for flags in (None, 0, 1):
            parent = None
            context = None
            if flags is not None:
                parent = SpanContext(trace_id, draw.getrandbits(64) or 1, True, TraceFlags(flags))
                context = trace.set_span_in_context(NonRecordingSpan(parent))
            decision = sdk.should_sample(context, trace_id, "x").decision
            assert ours.sampled(trace_id, parent) == (decision is Decision.RECORD_AND_SAMPLE)


HEADERS = [
    f"00-{TID}-{PARENT}-01",
    f"00-{TID}-{PARENT}-00",
    f"00-{TID}-{PARENT}-03",
    f" \t00-{TID}-{PARENT}-01 ",
    f"01-{TID}-{PARENT}-01-future",
    f"01-{TID}-{PARENT}-01",
    f"00-{TID}-{PARENT}-01-extra",
    f"ff-{TID}-{PARENT}-01",
    f"00-{TID.upper()}-{PARENT}-01",
    f"00-{'0' * 32}-{PARENT}-01",
    f"00-{TID}-{'0' * 16}-01",
    f"00-{TID}-{PARENT}",
    f"00-{TID}-{PARENT}-01" + "x" * 500,
    "garbage",
    "",
]


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("state", [None, "vendor=1,other=x-y", "not a valid state!"])
def test_traceparent_reads_as_the_sdk_propagator_reads_it(header, state):
    metadata = {"traceparent": header}
    if state is not None:
        metadata["tracestate"] = state
    expected = trace.get_current_span(TraceContextTextMapPropagator().extract(metadata))
    expected_context = expected.get_span_context()
    ours = extract_parent(metadata)
    if not expected_context.is_valid:
        assert ours is None
        return
    assert ours == expected_context  # ids, remote, flags, trace state


def one_request(ours: Tracing, metadata: dict[str, str], fail: bool) -> tuple[Envelope, dict]:
    env = Envelope(QUERY, None, metadata)
    span, token = ours.begin(env)
    try:
        with ours.backend_span(QUERY.method, "vg__docs__emb-1"):
            seen = trace_headers()
            if fail:
                raise Unavailable("the backend is down")
    except Unavailable:
        pass
    attributes = {"vecgate.collection": "docs", "vecgate.points": 0, "vecgate.dimension": 384}
    code = grpc.StatusCode.UNAVAILABLE if fail else grpc.StatusCode.OK
    ours.end(span, token, attributes, code, "the backend is down" if fail else "")
    assert trace_headers() == {}  # the request's spans are no longer current
    return env, seen


def test_spans_encode_like_the_stock_encoder_and_name_their_parents():
    """Server + backend spans with and without a client parent (with trace state), OK and
    failed: the fast encoder's bytes equal the stock encoder's; the backend span is the
    server span's child and what a remote backend is told as its parent."""
    keep = Keep()
    ours = tracing(keep)
    client = {"traceparent": f"00-{TID}-{PARENT}-01", "tracestate": "vendor=1"}
    seen = []
    for i in range(6):
        env, headers = one_request(ours, client if i % 2 else {}, fail=i % 3 == 0)
        seen.append((env, headers))
    ours.shutdown()
    spans = keep.spans
    assert len(spans) == 12
    assert encode(spans).SerializeToString() == encode_spans(spans).SerializeToString()
    by_id = {span.context.span_id: span for span in spans}
    for env, headers in seen:
        server = by_id[int(env.span_id, 16)]
        (backend,) = [s for s in spans if s.parent and s.parent.span_id == server.context.span_id]
        assert headers["traceparent"] == f"00-{env.trace_id}-{backend.context.span_id:016x}-01"
        assert backend.kind is trace.SpanKind.CLIENT
        assert backend.attributes["rpc.method"] == "Query"
        if server.parent is not None:
            assert (env.trace_id, f"{server.parent.span_id:016x}") == (TID, PARENT)
            assert server.parent.is_remote
            assert headers["tracestate"] == "vendor=1"
        else:
            assert "tracestate" not in headers
        failed = server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
        assert server.status.status_code is (
            trace.StatusCode.ERROR if failed else trace.StatusCode.UNSET
        )
        assert backend.status.status_code is server.status.status_code


def test_unsampled_requests_export_nothing_but_still_propagate(monkeypatch):
    keep = Keep()
    ours = tracing(keep, sample_ratio=0.0)
    env, headers = one_request(ours, {}, fail=False)
    ours.shutdown()
    assert keep.spans == []
    assert headers["traceparent"].startswith(f"00-{env.trace_id}-")
    assert headers["traceparent"].endswith("-00")


def test_span_attribute_limits_from_the_environment(monkeypatch):
    """OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT / _VALUE_LENGTH_LIMIT bound the attributes, and the
    dropped count is exported."""
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "4")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "3")
    keep = Keep()
    ours = tracing(keep, backend="embedded")
    one_request(ours, {}, fail=False)
    ours.shutdown()
    server = next(s for s in keep.spans if s.kind is trace.SpanKind.SERVER)
    assert len(server.attributes) == 4
    assert server.dropped_attributes == 3  # rpc.* 3 + ours 3 + the status code, 4 kept
    assert all(len(v) <= 3 for v in server.attributes.values() if isinstance(v, str))
    assert encode(keep.spans).SerializeToString() == encode_spans(keep.spans).SerializeToString()
