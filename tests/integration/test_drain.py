"""Graceful drain: SIGTERM with 200 calls in flight loses none of them."""

from __future__ import annotations

import signal
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from qdrant_client import models
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import points_service_pb2_grpc

from tests.gatewayproc import GatewayProcess
from tests.upstream import UpstreamProcess

V1 = "minilm@1"
IN_FLIGHT = 200
DELAY = 2.0  # each search takes this long at the backend


def test_sigterm_drains_in_flight_calls_and_refuses_new_ones(tmp_path):
    """200 searches in flight at SIGTERM all succeed within the 5 s grace; health says
    NOT_SERVING at once; the process exits 0."""
    upstream = UpstreamProcess(tmp_path / "up", "--delay", str(DELAY)).start()
    gw = GatewayProcess(tmp_path / "gw", None, "--backend", upstream.url).start()
    try:
        client = gw.client(V1)
        client.create_collection("drain", models.VectorParams(size=4, distance="Cosine"))
        client.upsert("drain", [models.PointStruct(id=1, vector=[1.0, 0.0, 0.0, 0.0])])
        client.close()
        request = ppb.QueryPoints(collection_name="drain", limit=1)
        request.query.nearest.dense.data.extend([1.0, 0.0, 0.0, 0.0])
        channels = [grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") for _ in range(4)]
        for channel in channels:
            grpc.channel_ready_future(channel).result(timeout=10)
        stubs = [points_service_pb2_grpc.PointsStub(c) for c in channels]  # type: ignore[no-untyped-call]
        codes: list[grpc.StatusCode] = []
        lock = threading.Lock()

        def search(n: int) -> None:
            try:
                stubs[n % 4].Query(request, metadata=(("x-embedding-model", V1),), timeout=30)
                code = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                code = exc.code()
            with lock:
                codes.append(code)

        threads = [threading.Thread(target=search, args=(n,)) for n in range(IN_FLIGHT)]
        for thread in threads:
            thread.start()
        time.sleep(DELAY / 2)  # all sent, none answered yet
        assert not codes, "calls finished before SIGTERM: the test would prove nothing"
        assert gw.proc is not None
        gw.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        health = health_pb2_grpc.HealthStub(channels[0])  # type: ignore[no-untyped-call]
        try:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(
                health.Check(health_pb2.HealthCheckRequest(), timeout=2).status
            )
        except grpc.RpcError as exc:  # already refusing new calls: not serving either
            status = exc.code().name
        assert status in ("NOT_SERVING", "UNAVAILABLE"), status
        with_new = time.monotonic()
        try:
            stubs[1].Query(request, metadata=(("x-embedding-model", V1),), timeout=5)
            late = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            late = exc.code()
        assert late == grpc.StatusCode.UNAVAILABLE, late
        for thread in threads:
            thread.join(30)
        exit_code = gw.proc.wait(15)
        print(
            f"\n{codes.count(grpc.StatusCode.OK)}/{IN_FLIGHT} in-flight calls answered OK; "
            f"a new call got {late.name} after {time.monotonic() - with_new:.2f} s; "
            f"exit {exit_code}"
        )
        assert codes.count(grpc.StatusCode.OK) == IN_FLIGHT, set(codes)
        assert exit_code == 0
        for channel in channels:
            channel.close()
    finally:
        gw.stop()
        upstream.stop()
