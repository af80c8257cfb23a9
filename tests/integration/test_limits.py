"""Limits: concurrency with a bounded queue, points per write, dimension, top-k, deadlines."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from qdrant_client import models
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import points_service_pb2_grpc

from tests.gatewayproc import GatewayProcess
from tests.upstream import UpstreamProcess

V1 = "minilm@1"
META = (("x-embedding-model", V1),)


def test_overload_is_refused_fast_and_admitted_requests_are_all_answered(tmp_path):
    """10x the concurrency limit at once against a slow backend: 4 run, 4 wait, the rest
    are refused at once with RESOURCE_EXHAUSTED and retry-after; every admitted one is
    answered."""
    upstream = UpstreamProcess(tmp_path / "up", "--delay", "1.0").start()
    config = (
        "[limits]\nmax_concurrent_requests = 4\nmax_queued_requests = 4\n"
        "retry_after_seconds = 2.0\n"
    )
    gw = GatewayProcess(tmp_path / "gw", config, "--backend", upstream.url).start()
    try:
        client = gw.client(V1)
        client.create_collection("busy", models.VectorParams(size=4, distance="Cosine"))
        client.upsert("busy", [models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0])])
        before = gw.rss_mb()
        results: list[tuple[grpc.StatusCode, float, str | None]] = []
        lock = threading.Lock()
        start = threading.Event()
        request = ppb.QueryPoints(collection_name="busy", limit=1)
        request.query.nearest.dense.data.extend([1.0, 0.0, 0.0, 0.0])

        def call() -> None:
            with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
                stub = points_service_pb2_grpc.PointsStub(channel)  # type: ignore[no-untyped-call]
                grpc.channel_ready_future(channel).result(timeout=10)
                start.wait()
                began = time.monotonic()
                try:
                    stub.Query(request, metadata=META, timeout=30)
                    outcome = (grpc.StatusCode.OK, time.monotonic() - began, None)
                except grpc.RpcError as exc:
                    trailers = dict(exc.trailing_metadata() or ())
                    outcome = (exc.code(), time.monotonic() - began, trailers.get("retry-after"))
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=call) for _ in range(80)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # every channel connected
        start.set()
        for thread in threads:
            thread.join(60)
        answered = [r for r in results if r[0] == grpc.StatusCode.OK]
        refused = [r for r in results if r[0] == grpc.StatusCode.RESOURCE_EXHAUSTED]
        assert len(results) == 80
        assert len(answered) + len(refused) == 80, {r[0] for r in results}
        assert 8 <= len(answered) < 20, len(answered)  # 4 running + 4 waiting (+ late ones)
        assert all(r[2] == "2" for r in refused)
        slowest_refusal = max(r[1] for r in refused)
        assert slowest_refusal < 1.0  # before the first admitted request could finish
        grown = gw.rss_mb() - before
        print(
            f"\n{len(answered)} answered, {len(refused)} refused (slowest refusal "
            f"{slowest_refusal * 1000:.0f} ms), RSS +{grown:.1f} MB"
        )
        assert grown < 50
    finally:
        gw.stop()
        upstream.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    """A gateway with small request limits."""
    config = (
        "[limits]\nmax_points_per_request = 10\nmax_dimension = 64\nmax_top_k = 5\n"
        "max_deadline_seconds = 30.0\n"
    )
    proc = GatewayProcess(tmp_path_factory.mktemp("limits") / "data", config).start()
    client = proc.client(V1)
    client.create_collection("small", models.VectorParams(size=4, distance="Cosine"))
    yield proc
    proc.stop()


def test_points_per_write_limit_refuses_the_whole_batch(small):
    """11 points over a limit of 10: INVALID_ARGUMENT naming the setting, nothing written."""
    client = small.client(V1)
    points = [models.PointStruct(id=i, vector=[1.0, i, 0.0, 0.0]) for i in range(11)]
    with pytest.raises(grpc.RpcError) as refused:
        client.upsert("small", points)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limits.max_points_per_request" in refused.value.details()
    assert client.count("small").count == 0
    client.upsert("small", points[:10])
    assert client.count("small").count == 10


def test_top_k_limit_covers_batches(small):
    """limit=6 over a top-k limit of 5 is refused, in a batch too; 5 is served."""
    client = small.client(V1)
    with pytest.raises(grpc.RpcError) as refused:
        client.query_points("small", query=[1.0, 0.0, 0.0, 0.0], limit=6)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limits.max_top_k" in refused.value.details()
    batch = [
        models.QueryRequest(query=[1.0, 0.0, 0.0, 0.0], limit=2),
        models.QueryRequest(query=[1.0, 0.0, 0.0, 0.0], limit=50),
    ]
    with pytest.raises(grpc.RpcError) as in_batch:
        client.query_batch_points("small", batch)
    assert "limit=50" in in_batch.value.details()
    assert len(client.query_points("small", query=[1.0, 0.0, 0.0, 0.0], limit=5).points) <= 5


def test_dimension_limit_on_create(small):
    """A collection of 65 dimensions over a limit of 64 is not created."""
    client = small.client(V1)
    with pytest.raises(grpc.RpcError) as refused:
        client.create_collection("wide", models.VectorParams(size=65, distance="Cosine"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limits.max_dimension" in refused.value.details()
    assert not client.collection_exists("wide")


def test_client_deadline_is_cut_to_the_maximum(tmp_path):
    """A client that allows 20 s gets DEADLINE_EXCEEDED after max_deadline_seconds."""
    upstream = UpstreamProcess(tmp_path / "up", "--stall", "qdrant.Points/Query").start()
    config = "[limits]\nmax_deadline_seconds = 0.5\n"
    gw = GatewayProcess(tmp_path / "gw", config, "--backend", upstream.url).start()
    try:
        client = gw.client(V1)
        client.create_collection("slow", models.VectorParams(size=4, distance="Cosine"))
        began = time.monotonic()
        with pytest.raises(grpc.RpcError) as late:
            client.query_points("slow", query=[1.0, 0.0, 0.0, 0.0], limit=1, timeout=20)
        waited = time.monotonic() - began
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "deadline" in late.value.details()
        assert waited < 10  # vecgate's cut, far before the client's own 20 s
        print(f"\nDEADLINE_EXCEEDED after {waited:.2f} s (client allowed 20 s)")
    finally:
        gw.stop()
        upstream.stop()
