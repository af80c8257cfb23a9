"""vecgate in front of a Qdrant server: replicas, outages, deadlines, limits, credentials, TLS.

The upstream is `tests/upstream.py` (Qdrant's engine behind Qdrant's gRPC services) in
its own process, so it can be killed, stalled or made to refuse; vecgate runs as
`vecgate serve --backend qdrant://...` and is driven by unmodified qdrant-client.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from qdrant_client import QdrantClient, models
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import points_service_pb2_grpc

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess
from tests.upstream import RETRY_AFTER, UpstreamProcess

V1, V2 = "minilm@1", "minilm@2"
DIM = 384


def _create(client: QdrantClient, name: str) -> None:
    client.create_collection(
        name, vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )


def _points(vectors: np.ndarray, start: int = 0) -> list[models.PointStruct]:
    return [
        models.PointStruct(id=start + i, vector=v.tolist(), payload={"n": start + i})
        for i, v in enumerate(vectors)
    ]


def _code(exc: BaseException) -> grpc.StatusCode:
    assert isinstance(exc, grpc.RpcError), exc
    return exc.code()  # type: ignore[no-any-return]


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[UpstreamProcess]:
    """A fresh Qdrant-protocol upstream for one test."""
    proc = UpstreamProcess(tmp_path / "upstream").start()
    yield proc
    proc.stop()


def _gateway(tmp_path: Path, upstream: UpstreamProcess, name: str, config: str | None = None):
    return GatewayProcess(tmp_path / name, config, "--backend", upstream.url).start()


def test_two_replicas_agree_on_versions_refusals_and_cutover(tmp_path, upstream, embeddings):
    """A version created through A is routed by B at once; B refuses what A refuses; a
    cut-over made through A is followed by B within 2 s."""
    admin = f'[[keys]]\nname = "ops"\nsha256 = "{hash_key("ops")}"\nrole = "admin"\n'
    a = _gateway(tmp_path, upstream, "a", admin)
    b = _gateway(tmp_path, upstream, "b", admin)
    try:
        corpus, tuned = embeddings["corpus_minilm"][:40], embeddings["corpus_minilm_ft"][:40]
        _create(a.client(V1), "docs")
        # B has not polled yet: the write is routed because the miss re-reads state.
        b.client(V1).upsert("docs", _points(corpus))
        hits = b.client(V1).query_points("docs", query=corpus[3].tolist(), limit=1).points
        assert hits[0].id == 3
        assert hits[0].payload["embedding_model"] == "minilm"
        assert a.client(V1).count("docs").count == 40

        _create(a.client(V2), "docs")  # a second version, through A
        b.client(V2).upsert("docs", _points(tuned[:10], start=100))
        hits = b.client(V2).query_points("docs", query=tuned[0].tolist(), limit=3).points
        assert hits[0].id == 100
        assert all(h.payload["embedding_version"] == "2" for h in hits)

        with pytest.raises(grpc.RpcError) as refused:  # cross-version, through B
            b.client("minilm@3").query_points("docs", query=corpus[0].tolist(), limit=3)
        assert _code(refused.value) == grpc.StatusCode.FAILED_PRECONDITION
        assert "minilm@1 (active), minilm@2" in refused.value.details()

        forged = models.PointStruct(
            id=999, vector=corpus[0].tolist(), payload={"embedding_model": "other"}
        )
        with pytest.raises(grpc.RpcError) as bad:
            b.client(V1).upsert("docs", [forged])
        assert _code(bad.value) == grpc.StatusCode.INVALID_ARGUMENT
        assert "embedding_model" in bad.value.details()

        # Cut-over through A's admin API, then B's anonymous reads follow within 2 s.
        with grpc.insecure_channel(f"127.0.0.1:{a.grpc_port}") as channel:
            admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
            meta = (("api-key", "ops"),)
            admin.StartMigration(
                admin_pb2.StartMigrationRequest(collection="docs", to=V2), metadata=meta
            )
            admin.Cutover(admin_pb2.CutoverRequest(collection="docs", force=True), metadata=meta)
        switched = time.monotonic()
        while True:
            page = b.client().scroll("docs", limit=1, with_payload=True)[0]
            if page and page[0].payload["embedding_version"] == "2":
                break
            assert time.monotonic() - switched < 2.0, "B still reads the old active version"
            time.sleep(0.05)
        print(f"\nB followed A's cut-over after {time.monotonic() - switched:.2f} s")
    finally:
        a.stop()
        b.stop()


def test_upstream_killed_mid_workload_then_back_without_restart(tmp_path, upstream, embeddings):
    """While the upstream is gone every call is UNAVAILABLE (never OK, UNKNOWN or
    INTERNAL); when it returns, vecgate serves again; every acknowledged write is there."""
    gw = _gateway(tmp_path, upstream, "gw")
    vectors = embeddings["corpus_minilm"][:300]
    acknowledged: list[int] = []
    failures: list[grpc.StatusCode] = []
    stop = threading.Event()
    try:
        client = gw.client(V1)
        _create(client, "work")

        def write() -> None:
            writer = gw.client(V1)
            n = 0
            while not stop.is_set():
                batch = [(n + i) % len(vectors) for i in range(5)]
                points = [
                    models.PointStruct(id=n + i, vector=vectors[j].tolist(), payload={"n": n + i})
                    for i, j in enumerate(batch)
                ]
                try:
                    writer.upsert("work", points, wait=True)
                    acknowledged.extend(p.id for p in points)  # type: ignore[misc]
                except grpc.RpcError as exc:
                    failures.append(_code(exc))
                    time.sleep(0.02)
                n += 5

        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.5)
        upstream.kill()
        down_at = len(acknowledged)
        time.sleep(1.0)
        with pytest.raises(grpc.RpcError) as read:
            client.query_points("work", query=vectors[0].tolist(), limit=1)
        assert _code(read.value) == grpc.StatusCode.UNAVAILABLE
        assert "the same call may be retried" in read.value.details()
        assert len(acknowledged) <= down_at + 5  # at most the batch in flight at the kill
        upstream.start()  # same port, same data
        back = time.monotonic()
        while len(acknowledged) <= down_at + 5:
            assert time.monotonic() - back < 10, "vecgate did not serve again"
            time.sleep(0.05)
        print(f"\nserving again {time.monotonic() - back:.2f} s after the upstream returned")
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(10)
    try:
        assert failures, "the workload never saw the outage"
        assert set(failures) == {grpc.StatusCode.UNAVAILABLE}, failures
        stored = {
            p.id for p in gw.client(V1).retrieve("work", ids=acknowledged, with_payload=False)
        }
        assert stored == set(acknowledged)
        print(f"{len(acknowledged)} acknowledged writes all present; {len(failures)} UNAVAILABLE")
    finally:
        gw.stop()


def _raw_search(gw: GatewayProcess, vector: np.ndarray, timeout: float | None = None) -> None:
    """A Search through vecgate with a plain gRPC stub: `timeout` None sets no deadline."""
    request = ppb.SearchPoints(collection_name="slow", vector=vector.tolist(), limit=3)
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        stub = points_service_pb2_grpc.PointsStub(channel)  # type: ignore[no-untyped-call]
        stub.Search(request, timeout=timeout, metadata=(("x-embedding-model", V1),))


def _fill_slow(gw: GatewayProcess, vectors: np.ndarray) -> None:
    client = gw.client(V1)
    _create(client, "slow")
    client.upsert("slow", _points(vectors))


def _wait_for_cancel(upstream: UpstreamProcess) -> float:
    start = time.monotonic()
    while not any(e.get("event") == "cancelled" for e in upstream.events):
        assert time.monotonic() - start < 2.0, "the upstream call was never cancelled"
        time.sleep(0.01)
    return time.monotonic() - start


def test_client_deadline_reaches_the_stalled_upstream(tmp_path, embeddings):
    """A 200 ms deadline against a stalling upstream: DEADLINE_EXCEEDED within 250 ms,
    and the upstream call is cancelled."""
    upstream = UpstreamProcess(tmp_path / "up", "--stall", "qdrant.Points/Search").start()
    gw = _gateway(tmp_path, upstream, "gw")
    try:
        _fill_slow(gw, embeddings["corpus_minilm"][:10])
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as late:
            _raw_search(gw, embeddings["corpus_minilm"][0], timeout=0.2)
        elapsed = time.monotonic() - start
        assert _code(late.value) == grpc.StatusCode.DEADLINE_EXCEEDED
        assert elapsed < 0.25
        after = _wait_for_cancel(upstream)
        print(
            f"\nDEADLINE_EXCEEDED after {elapsed * 1000:.0f} ms; upstream cancelled +{after:.3f} s"
        )
    finally:
        gw.stop()
        upstream.stop()


def test_backend_timeout_bounds_calls_without_a_deadline(tmp_path, embeddings):
    """No client deadline: backend.timeout_seconds still bounds the upstream call."""
    upstream = UpstreamProcess(tmp_path / "up", "--stall", "qdrant.Points/Search").start()
    gw = _gateway(tmp_path, upstream, "gw", "[backend]\ntimeout_seconds = 0.3\n")
    try:
        _fill_slow(gw, embeddings["corpus_minilm"][:10])
        with pytest.raises(grpc.RpcError) as late:  # no client deadline
            _raw_search(gw, embeddings["corpus_minilm"][0])
        assert _code(late.value) == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "did not answer Search before the deadline" in late.value.details()
        _wait_for_cancel(upstream)
    finally:
        gw.stop()
        upstream.stop()


def test_upstream_overload_passes_retry_after(tmp_path, embeddings):
    """RESOURCE_EXHAUSTED from the upstream reaches the client with its retry-after."""
    upstream = UpstreamProcess(tmp_path / "up", "--exhaust", "qdrant.Points/Search").start()
    gw = _gateway(tmp_path, upstream, "gw")
    try:
        _fill_slow(gw, embeddings["corpus_minilm"][:10])
        with pytest.raises(grpc.RpcError) as busy:
            _raw_search(gw, embeddings["corpus_minilm"][0])
        assert _code(busy.value) == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert dict(busy.value.trailing_metadata())["retry-after"] == RETRY_AFTER
    finally:
        gw.stop()
        upstream.stop()


def test_message_limit_on_the_backend_leg_refuses_before_anything_is_written(
    tmp_path, upstream, embeddings
):
    """An upsert larger than backend.max_message_mb: RESOURCE_EXHAUSTED naming the
    setting, and no point of it stored."""
    gw = _gateway(tmp_path, upstream, "gw", "[backend]\nmax_message_mb = 1\n")
    try:
        client = gw.client(V1)
        _create(client, "big")
        with pytest.raises(grpc.RpcError) as big:
            client.upsert("big", _points(embeddings["corpus_minilm"][:1000]))  # ~1.6 MB
        assert _code(big.value) == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "backend.max_message_mb" in big.value.details()
        assert client.count("big").count == 0
        client.upsert("big", _points(embeddings["corpus_minilm"][:100]))  # under the limit
        assert client.count("big").count == 100
    finally:
        gw.stop()


def test_upstream_api_key_is_sent_and_a_wrong_one_is_explained(tmp_path, embeddings):
    """backend.api_key goes upstream; without it the client learns what to configure."""
    upstream = UpstreamProcess(tmp_path / "up", "--api-key", "s3cret").start()
    good = bad = None
    try:
        good = _gateway(tmp_path, upstream, "good", '[backend]\napi_key = "s3cret"\n')
        _create(good.client(V1), "keyed")
        good.client(V1).upsert("keyed", _points(embeddings["corpus_minilm"][:5]))
        assert good.client(V1).count("keyed").count == 5
        bad = GatewayProcess(tmp_path / "bad", None, "--backend", upstream.url)
        with pytest.raises(RuntimeError):  # never ready: it cannot read routing state
            bad.start(timeout=3)
        assert any("backend.api_key" in line for line in bad.log_lines)
    finally:
        for proc in (good, bad):
            if proc is not None:
                proc.stop()
        upstream.stop()


def _make_cert(folder: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_to_the_upstream(tmp_path, embeddings):
    """qdrants:// with backend.ca_file: the upstream leg is TLS and works end to end."""
    cert, key = _make_cert(tmp_path)
    upstream = UpstreamProcess(
        tmp_path / "up", "--tls-cert", str(cert), "--tls-key", str(key)
    ).start()
    assert upstream.url.startswith("qdrants://")
    gw = _gateway(tmp_path, upstream, "gw", f'[backend]\nca_file = "{cert}"\n')
    try:
        client = gw.client(V1)
        _create(client, "secure")
        client.upsert("secure", _points(embeddings["corpus_minilm"][:5]))
        hit = client.query_points("secure", query=embeddings["corpus_minilm"][2].tolist(), limit=1)
        assert hit.points[0].id == 2
    finally:
        gw.stop()
        upstream.stop()


def test_key_added_through_one_replica_is_honoured_by_the_other(tmp_path, upstream, embeddings):
    """A key added through A's admin API works through B at once (identity binding and
    scope included); removed through A, B refuses it within 2 s."""
    admin = f'[[keys]]\nname = "ops"\nsha256 = "{hash_key("ops")}"\nrole = "admin"\n'
    a = _gateway(tmp_path, upstream, "a", admin)
    b = _gateway(tmp_path, upstream, "b", admin)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{a.grpc_port}") as channel:
            stub = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
            meta = (("api-key", "ops"),)
            added = admin_pb2.AddKeyRequest(
                name="indexer", sha256=hash_key("idx"), identity=V1, collections=["docs"]
            )
            assert stub.AddKey(added, metadata=meta).source == "stored"
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
                indexer = b.client(api_key="idx", https=False)  # no x-embedding-model header
                through_a = a.client(api_key="idx", https=False)
            _create(indexer, "docs")
            indexer.upsert("docs", _points(embeddings["corpus_minilm"][:5]))
            stored = through_a.retrieve("docs", ids=[0], with_payload=True)[0].payload
            assert (stored["embedding_model"], stored["embedding_version"]) == ("minilm", "1")
            with pytest.raises(grpc.RpcError) as scope:
                _create(indexer, "elsewhere")
            assert _code(scope.value) == grpc.StatusCode.PERMISSION_DENIED

            stub.RemoveKey(admin_pb2.RemoveKeyRequest(name="indexer"), metadata=meta)
        removed = time.monotonic()
        status = grpc.StatusCode.OK
        while status == grpc.StatusCode.OK:
            assert time.monotonic() - removed < 2.0, "B still accepts the removed key"
            try:
                indexer.count("docs")
            except grpc.RpcError as exc:
                status = _code(exc)
            time.sleep(0.05)
        assert status == grpc.StatusCode.UNAUTHENTICATED
        print(f"\nB refused the removed key after {time.monotonic() - removed:.2f} s")
    finally:
        a.stop()
        b.stop()


def test_a_backend_that_drops_collection_metadata_is_refused(tmp_path):
    """Without collection metadata vecgate cannot record versions: it says so, and
    leaves nothing behind on the backend."""
    upstream = UpstreamProcess(tmp_path / "up", "--forget-metadata").start()
    gw = _gateway(tmp_path, upstream, "gw")
    try:
        with pytest.raises(grpc.RpcError) as refused:
            _create(gw.client(V1), "docs")
        assert _code(refused.value) == grpc.StatusCode.FAILED_PRECONDITION
        assert "collection metadata" in refused.value.details()
        direct = QdrantClient(  # the upstream has no HTTP side for the version check
            host="127.0.0.1", grpc_port=upstream.port, prefer_grpc=True, check_compatibility=False
        )
        assert direct.get_collections().collections == []
    finally:
        gw.stop()
        upstream.stop()


def _health(gw: GatewayProcess, service: str) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)  # type: ignore[no-untyped-call]
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def _until(gw: GatewayProcess, service: str, status: str, within: float) -> float:
    began = time.monotonic()
    while _health(gw, service) != status:
        assert time.monotonic() - began < within, f"{service} not {status} after {within} s"
        time.sleep(0.05)
    return time.monotonic() - began


def test_readiness_follows_the_backend_and_liveness_does_not(tmp_path, upstream):
    """Upstream down: `vecgate.ready` NOT_SERVING within two probe intervals, data calls
    UNAVAILABLE, liveness ("") still SERVING; upstream back: SERVING again."""
    probe = 0.5
    gw = _gateway(tmp_path, upstream, "gw", f"[server]\nprobe_seconds = {probe}\n")
    try:
        _create(gw.client(V1), "ready")
        assert _health(gw, "vecgate.ready") == "SERVING"
        upstream.kill()
        down = _until(gw, "vecgate.ready", "NOT_SERVING", within=2 * probe + 0.5)
        assert _health(gw, "qdrant.Points") == "NOT_SERVING"
        assert _health(gw, "") == "SERVING"
        with pytest.raises(grpc.RpcError) as refused:
            gw.client(V1).count("ready")
        assert _code(refused.value) == grpc.StatusCode.UNAVAILABLE
        upstream.start()
        up = _until(gw, "vecgate.ready", "SERVING", within=2 * probe + 2.0)
        assert gw.client(V1).count("ready").count == 0
        print(f"\nNOT_SERVING {down:.2f} s after the kill, SERVING {up:.2f} s after the restart")
    finally:
        gw.stop()
