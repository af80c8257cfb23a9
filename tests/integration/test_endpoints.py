"""What clients and orchestrators see besides the Qdrant RPCs: HTTP side, health, reflection."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from importlib.metadata import version

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from qdrant_client.common.version_check import is_compatible
from qdrant_client.grpc import qdrant_pb2, qdrant_pb2_grpc

from tests.gatewayproc import GatewayProcess


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_root_answers_like_qdrant_and_satisfies_the_client_version_check(gateway):
    """GET / gives Qdrant's title and a version qdrant-client accepts, plus vecgate's own."""
    status, body = _get(gateway.http_port, "/")
    assert status == 200
    data = json.loads(body)
    assert data["title"] == "qdrant - vector search engine"
    assert is_compatible(version("qdrant-client"), data["version"])
    assert data["vecgate"]["backend"] == "embedded"


def test_probes_and_unknown_paths(gateway):
    """/healthz, /livez and /readyz answer 200; any other path is a 404 naming the gRPC port."""
    for path in ("/healthz", "/livez", "/readyz"):
        assert _get(gateway.http_port, path)[0] == 200
    status, body = _get(gateway.http_port, "/collections")
    assert status == 404
    assert str(gateway.grpc_port) in body


def test_grpc_health_and_reflection(gateway):
    """grpc.health.v1 reports SERVING for the server and each Qdrant service; reflection too."""
    with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "qdrant.Qdrant", "qdrant.Collections", "qdrant.Points"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
        names = {s.name for s in reply.list_services_response.service}
        assert {
            "qdrant.Qdrant",
            "qdrant.Collections",
            "qdrant.Points",
            "grpc.health.v1.Health",
        } <= names


def test_health_check_rpc_reports_the_qdrant_version(gateway):
    """The Qdrant HealthCheck RPC answers like Qdrant and says vecgate in its commit field."""
    client = gateway.client()
    info = client.info()
    assert info.title == "qdrant - vector search engine"
    assert info.version == version("qdrant-client")
    assert info.commit.startswith("vecgate-")


def test_max_connection_age_makes_clients_reconnect_without_failing_a_call(tmp_path):
    """server.max_connection_age_seconds: the connection is recycled (the channel goes
    back to IDLE and reconnects) and no call fails because of it."""
    proc = GatewayProcess(tmp_path / "data", "[server]\nmax_connection_age_seconds = 0.3\n")
    proc.start()
    states: list[grpc.ChannelConnectivity] = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{proc.grpc_port}") as channel:
            channel.subscribe(states.append)
            stub = qdrant_pb2_grpc.QdrantStub(channel)
            for _ in range(12):  # 1.2 s: several ages
                assert stub.HealthCheck(qdrant_pb2.HealthCheckRequest(), timeout=5).title
                time.sleep(0.1)
            channel.unsubscribe(states.append)
    finally:
        proc.stop()
    ready = [i for i, s in enumerate(states) if s is grpc.ChannelConnectivity.READY]
    assert len(ready) >= 2, states  # connected, dropped by GOAWAY, connected again
    assert grpc.ChannelConnectivity.IDLE in states[ready[0] :]
