"""Crash invariants: what a client was told was written, is written — whoever crashes.

10,000 points with explicit ids, upserted five at a time (2,000 calls; ten at a time on
milvus-lite) from two client threads while a process is SIGKILLed and restarted at
three random points of the workload: the Qdrant-protocol upstream
behind vecgate, or vecgate itself on its embedded engine. Afterwards every
acknowledged point is present with its exact vector and payload, no point exists
that was never sent, no id is stored twice, and every failed call ended in
UNAVAILABLE or DEADLINE_EXCEEDED (never OK for a lost write, never UNKNOWN).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from qdrant_client import QdrantClient, models

from adapters.milvus.lite import LiteServer
from tests.gatewayproc import GatewayProcess
from tests.upstream import UpstreamProcess

IDENTITY = "minilm@1"
TOTAL = 10_000
THREADS = 2
KILLS = 3
ALLOWED = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class Ledger:
    """What the clients were told."""

    acknowledged: set[int] = field(default_factory=set)
    failed: dict[int, grpc.StatusCode] = field(default_factory=dict)
    sentences: dict[grpc.StatusCode, str] = field(default_factory=dict)  # one per status
    lock: threading.Lock = field(default_factory=threading.Lock)


def _write(
    client_of: Callable[[], QdrantClient],
    ids: list[int],
    vectors: np.ndarray,
    ledger: Ledger,
    batch: int,
) -> None:
    client = client_of()
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        points = [
            models.PointStruct(id=n, vector=vectors[n % len(vectors)].tolist(), payload={"n": n})
            for n in chunk
        ]
        try:
            client.upsert("crash", points, wait=True)
        except grpc.RpcError as exc:
            with ledger.lock:
                ledger.failed.update(dict.fromkeys(chunk, exc.code()))
                ledger.sentences.setdefault(exc.code(), exc.details())
            time.sleep(0.01)
            client = client_of()  # the gateway may have moved (restarted)
            continue
        with ledger.lock:
            ledger.acknowledged.update(chunk)


def _run(
    client_of: Callable[[], QdrantClient],
    vectors: np.ndarray,
    crash: Callable[[], None],
    batch: int = 5,
) -> Ledger:
    """Write TOTAL points from THREADS threads; call `crash` KILLS times meanwhile."""
    ledger = Ledger()
    ids = list(range(TOTAL))
    threads = [
        threading.Thread(target=_write, args=(client_of, ids[i::THREADS], vectors, ledger, batch))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    # The crashes come at random points of the workload (shares of the calls answered),
    # not at random times: a gateway fast enough to finish first must not dodge them.
    rng = random.Random(20261122)
    for mark in sorted(rng.uniform(0.1, 0.8) for _ in range(KILLS)):
        while _answered(ledger) < mark * TOTAL and any(t.is_alive() for t in threads):
            time.sleep(0.002)
        if not any(t.is_alive() for t in threads):
            break
        crash()
    for thread in threads:
        thread.join(300)
    return ledger


def _answered(ledger: Ledger) -> int:
    """Calls answered so far (acknowledged or failed), in points."""
    with ledger.lock:
        return len(ledger.acknowledged) + len(ledger.failed)


def _retrieve_all(client: QdrantClient) -> list[Any]:
    """Every stored point, once the backend serves again after the last restart."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return [
                record
                for start in range(0, TOTAL, 1000)
                for record in client.retrieve(
                    "crash", ids=list(range(start, start + 1000)), with_vectors=True
                )
            ]
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _check(
    client: QdrantClient, vectors: np.ndarray, ledger: Ledger, *, durable: bool = True
) -> tuple[set[int], set[int]]:
    """Check the invariants. With `durable`, nothing acknowledged may be lost or damaged;
    without, the (acknowledged) ids lost and the ids stored damaged are returned."""
    assert ledger.failed, "no call failed: the crashes missed the workload"
    assert set(ledger.failed.values()) <= ALLOWED, ledger.sentences
    stored = {}
    for record in _retrieve_all(client):
        assert record.id not in stored  # no id twice
        stored[record.id] = record
    missing = ledger.acknowledged - stored.keys()
    phantoms = stored.keys() - ledger.acknowledged - ledger.failed.keys()
    assert not phantoms, f"points never sent: {sorted(phantoms)[:5]}"
    damaged = set()
    for n, record in stored.items():
        exact = np.array_equal(
            np.asarray(record.vector, dtype=np.float32), vectors[n % len(vectors)]
        )
        tags = {"n": n, "embedding_model": "minilm", "embedding_version": "1"}
        if not exact or record.payload != tags:
            damaged.add(n)
    if durable:
        assert not missing, f"{len(missing)} acknowledged points lost, e.g. {sorted(missing)[:5]}"
        assert not damaged, f"{len(damaged)} points stored damaged, e.g. {sorted(damaged)[:5]}"
    assert client.count("crash", exact=True).count == len(stored)
    print(
        f"\n{len(ledger.acknowledged)} acknowledged, {len(ledger.failed)} failed "
        f"({', '.join(sorted({c.name for c in ledger.failed.values()}))}), "
        f"{len(stored)} stored: {len(missing)} lost, {len(damaged)} damaged, 0 phantoms, "
        "0 duplicates"
    )
    return missing, damaged


def _client(gw: GatewayProcess) -> QdrantClient:
    # No version check: it runs in a thread that would race the kills.
    return gw.client(IDENTITY, check_compatibility=False)


def _create(client: QdrantClient) -> None:
    # Dot keeps vectors as sent (Cosine would normalise them), so the check can be bit-exact.
    client.create_collection("crash", models.VectorParams(size=384, distance="Dot"))


def test_backend_killed_at_random(tmp_path: Path, embeddings):
    """The upstream Qdrant is SIGKILLed and restarted three times during the writes."""
    vectors = embeddings["corpus_minilm"].astype(np.float32)
    upstream = UpstreamProcess(tmp_path / "upstream").start()
    gw = GatewayProcess(tmp_path / "gw", None, "--backend", upstream.url).start()
    try:
        _create(_client(gw))

        def crash() -> None:
            upstream.kill()
            time.sleep(0.3)
            upstream.start()

        ledger = _run(lambda: _client(gw), vectors, crash)
        _check(_client(gw), vectors, ledger)
    finally:
        gw.stop()
        upstream.stop()


def test_vecgate_killed_at_random(tmp_path: Path, embeddings):
    """vecgate on its embedded engine is SIGKILLed and restarted (same data, same port)."""
    vectors = embeddings["corpus_minilm"].astype(np.float32)
    gw = GatewayProcess(tmp_path / "gw").start()
    port = gw.grpc_port
    state = {"gw": gw}
    try:
        _create(_client(gw))

        def crash() -> None:
            state["gw"].stop(signal.SIGKILL)
            state["gw"] = GatewayProcess(tmp_path / "gw", None).with_ports(port).start()

        ledger = _run(lambda: _client(state["gw"]), vectors, crash)
        _check(_client(state["gw"]), vectors, ledger)
    finally:
        state["gw"].stop()


def test_milvus_lite_killed_at_random(tmp_path: Path, embeddings):
    """The milvus-lite server behind vecgate is SIGKILLed and restarted three times.

    vecgate's part holds: every failure is UNAVAILABLE, nothing is invented, nothing
    is stored twice, and what is stored is exact. milvus-lite's part does not: it keeps
    rows it has not flushed in memory, so a kill loses what came after its last flush
    (10 to 1,030 acknowledged points in runs of this test; flushing before every
    acknowledgement cut that to about 20, not to 0), and once returned a stored vector
    whose bytes were garbage after a kill. The test measures both;
    docs/decisions.md (33) says it: milvus-lite is for development; a Milvus
    server's write-ahead log is what makes acknowledged writes durable.
    """
    vectors = embeddings["corpus_minilm"].astype(np.float32)
    lite = LiteServer(tmp_path / "milvus").start()
    backend = f"milvus://127.0.0.1:{lite.port}"
    gw = GatewayProcess(tmp_path / "gw", None, "--backend", backend).start()
    try:
        _create(_client(gw))

        def crash() -> None:
            assert lite.proc is not None
            lite.proc.kill()
            lite.proc.wait(10)
            time.sleep(0.3)
            lite.start()

        ledger = _run(lambda: _client(gw), vectors, crash, batch=10)
        lost, damaged = _check(_client(gw), vectors, ledger, durable=False)
        print(f"milvus-lite lost {len(lost)} acknowledged points, returned {len(damaged)} damaged")
    finally:
        gw.stop()
        lite.stop()
