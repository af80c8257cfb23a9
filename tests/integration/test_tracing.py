"""Tracing through a real gateway to a real OTLP/gRPC receiver in the test process."""

from __future__ import annotations

import grpc
import pytest
from qdrant_client import models

from tests.gatewayproc import GatewayProcess
from tests.otlp import ReceivedSpan, Receiver

TRACE_A, PARENT_A = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACE_B, PARENT_B = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
SERVER, INTERNAL = 2, 1
UNSET, ERROR = 0, 2


def traceparent(trace_id: str, parent: str) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{parent}-01"}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def server_span(spans: list[ReceivedSpan], name: str, trace_id: str) -> ReceivedSpan:
    (span,) = [s for s in spans if s.kind == SERVER and s.name == name and s.trace_id == trace_id]
    return span


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [s for s in spans if s.parent_span_id == parent.span_id]


def test_spans_continue_the_client_trace_with_decision_and_backend_child(
    tmp_path, monkeypatch, receiver
):
    """Export on through OTEL_EXPORTER_OTLP_ENDPOINT alone: a routed query and a refused one
    arrive as server spans continuing the clients' traceparents, with vecgate's attributes;
    the routed one has a backend child span; neither is an error. Spans queued at SIGTERM
    are flushed (the batch delay is longer than the test)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "vecgate-under-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")  # only the shutdown flush exports
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        app = gateway.client("emb@1", headers=traceparent(TRACE_A, PARENT_A))
        app.create_collection("docs", vectors_config=models.VectorParams(size=4, distance="Cosine"))
        app.upsert("docs", [models.PointStruct(id=i, vector=[1.0, i, 0.5, 0.0]) for i in range(3)])
        hits = app.query_points("docs", query=[1.0, 0.0, 0.5, 0.0], limit=2).points
        assert len(hits) == 2
        other = gateway.client("emb@2", headers=traceparent(TRACE_B, PARENT_B))
        with pytest.raises(grpc.RpcError) as refused:
            other.query_points("docs", query=[1.0, 0.0, 0.5, 0.0], limit=2)
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert gateway.client("emb@1").count("docs").count == 3  # no traceparent: a new trace
        assert receiver.spans == []  # nothing exported before shutdown
    finally:
        assert gateway.stop() == 0
    log = {(r["method"], r["decision"]): r for r in gateway.requests()}
    spans = receiver.wait_for(1, timeout=2)

    assert {s.resource["service.name"] for s in spans} == {"vecgate-under-test"}
    routed = server_span(spans, "qdrant.Points/Query", TRACE_A)
    assert routed.parent_span_id == PARENT_A
    attrs = routed.attributes
    assert attrs["rpc.system"] == "grpc"
    assert (attrs["rpc.service"], attrs["rpc.method"]) == ("qdrant.Points", "Query")
    assert attrs["rpc.grpc.status_code"] == 0
    assert attrs["vecgate.collection"] == "docs"
    assert attrs["vecgate.partition"].startswith("vg__docs__emb-1")
    assert (attrs["vecgate.model"], attrs["vecgate.version"]) == ("emb", "1")
    assert attrs["vecgate.decision"] == "routed"
    assert (attrs["vecgate.vectors"], attrs["vecgate.dimension"]) == (1, 4)
    assert "vecgate.refusal_reason" not in attrs
    assert routed.status_code == UNSET
    (backend,) = children(spans, routed)
    assert backend.trace_id == TRACE_A
    assert backend.name == "embedded qdrant.Points/Query"
    assert backend.kind == INTERNAL
    assert backend.attributes["vecgate.partition"] == attrs["vecgate.partition"]
    assert backend.status_code == UNSET

    upsert = server_span(spans, "qdrant.Points/Upsert", TRACE_A)
    assert upsert.attributes["vecgate.points"] == 3
    assert upsert.attributes["vecgate.vectors"] == 3
    assert len(children(spans, upsert)) == 1
    create = server_span(spans, "qdrant.Collections/Create", TRACE_A)
    assert create.attributes["vecgate.decision"] == "served"

    refused_span = server_span(spans, "qdrant.Points/Query", TRACE_B)
    assert refused_span.parent_span_id == PARENT_B
    attrs = refused_span.attributes
    assert attrs["vecgate.decision"] == "refused"
    assert attrs["vecgate.refusal_reason"] == "cross_version"
    assert (attrs["vecgate.model"], attrs["vecgate.version"]) == ("emb", "2")
    assert attrs["rpc.grpc.status_code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert refused_span.status_code == UNSET  # a client fault is not a server error
    assert children(spans, refused_span) == []  # refused before any backend call

    (count,) = [s for s in spans if s.name == "qdrant.Points/Count"]
    assert count.parent_span_id == ""  # a root span of a trace of its own
    assert count.trace_id not in (TRACE_A, TRACE_B)
    assert all(s.status_code == UNSET for s in spans)

    # The request log names the same trace and server span.
    assert log["Points/Query", "routed"]["trace_id"] == TRACE_A
    assert log["Points/Query", "routed"]["span_id"] == routed.span_id
    assert log["Points/Query", "refused"]["trace_id"] == TRACE_B
    assert log["Points/Query", "refused"]["span_id"] == refused_span.span_id
    assert log["Points/Upsert", "routed"]["span_id"] == upsert.span_id


def test_server_faults_mark_spans_as_errors_and_client_faults_do_not(receiver):
    """The real tracer and exporter: INTERNAL, UNAVAILABLE and DEADLINE_EXCEEDED end in span
    status ERROR (with the message); NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT,
    FAILED_PRECONDITION and UNIMPLEMENTED leave it unset."""
    from proxy.config import TelemetryConfig
    from proxy.envelope import Envelope
    from proxy.frontend.ops import OPS
    from proxy.telemetry.tracing import Tracing

    tracing = Tracing(TelemetryConfig(endpoint=receiver.endpoint), backend_kind="embedded")
    codes = {
        grpc.StatusCode.INTERNAL: ERROR,
        grpc.StatusCode.UNAVAILABLE: ERROR,
        grpc.StatusCode.DEADLINE_EXCEEDED: ERROR,
        grpc.StatusCode.NOT_FOUND: UNSET,
        grpc.StatusCode.PERMISSION_DENIED: UNSET,
        grpc.StatusCode.INVALID_ARGUMENT: UNSET,
        grpc.StatusCode.FAILED_PRECONDITION: UNSET,
        grpc.StatusCode.UNIMPLEMENTED: UNSET,
    }
    ids = {}
    for code in codes:
        env = Envelope(OPS["/qdrant.Points/Search"], None, {})
        span, token = tracing.begin(env)
        tracing.end(span, token, {"vecgate.decision": "x"}, code, f"{code.name} happened")
        ids[env.span_id] = code
    tracing.shutdown()
    spans = {s.span_id: s for s in receiver.wait_for(len(codes))}
    assert set(spans) == set(ids)
    for span_id, code in ids.items():
        span = spans[span_id]
        assert span.attributes["rpc.grpc.status_code"] == code.value[0]
        assert span.status_code == codes[code], code
        if codes[code] == ERROR:
            assert span.status_message == f"{code.name} happened"


def test_trace_headers_name_the_backend_span_or_pass_the_client_through(receiver):
    """What a remote backend forwards: with tracing on, a traceparent whose parent is the
    exported backend span; with tracing off, the client's own headers; outside a request,
    nothing."""
    import asyncio

    from proxy.config import load_config
    from proxy.envelope import Envelope
    from proxy.frontend.ops import OPS
    from proxy.telemetry.observe import Telemetry
    from proxy.telemetry.propagation import trace_headers

    class NoModels:
        def all(self):
            return []

    op = OPS["/qdrant.Points/Query"]
    client = {**traceparent(TRACE_A, PARENT_A), "tracestate": "vendor=1"}

    async def one_request(telemetry: Telemetry) -> tuple[Envelope, dict[str, str]]:
        env = Envelope(op, None, dict(client))
        handle = telemetry.begin(env)
        with telemetry.backend_call(op.method, "vg__docs"):
            seen = trace_headers()
        env.decision = "routed"
        telemetry.finish(env, None, handle)
        return env, seen

    quiet = {"server": {"log_requests": False}}
    on = Telemetry(
        load_config(overrides={**quiet, "telemetry": {"endpoint": receiver.endpoint}}, environ={}),
        NoModels(),
        backend_kind="qdrant",
    )
    env, seen = asyncio.run(one_request(on))
    on.close()  # flushes
    (backend,) = [s for s in receiver.wait_for(2) if s.parent_span_id == env.span_id]
    assert backend.kind == 3  # CLIENT: a remote backend
    assert seen["traceparent"] == f"00-{TRACE_A}-{backend.span_id}-01"
    assert seen["tracestate"] == "vendor=1"

    off = Telemetry(load_config(overrides=quiet, environ={}), NoModels(), backend_kind="qdrant")
    env, seen = asyncio.run(one_request(off))
    assert seen == client  # traceparent and tracestate, as the client sent them
    assert env.trace_id == TRACE_A
    assert trace_headers() == {}
