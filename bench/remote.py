"""The hop through vecgate in front of a Qdrant server, against calling the server directly.

The upstream is `tests/upstream.py` (Qdrant's engine behind Qdrant's gRPC services, its
own process); the same upstream answers both paths. The floor is one bare Python gRPC
hop (`bench/echo.py`: a canned top-10 answer, no work), measured in the same run.
Searches run twice: one query on each path in turn (each server has sat idle while
the three others answered: every request meets cold caches), then in blocks of
`WARM_BLOCK` queries per path in turn (a server under steady traffic). Every path
searches the same index, vecgate's partition (the direct and forwarder paths by its
physical name), so that the upstream's own caches favour none of them.
Vectors are 1536-d: each passage's real MiniLM, MPNet and fine-tuned MiniLM vectors
side by side (384 + 768 + 384), normalised — real model outputs at the width of the
common 1536-d embedding APIs, which the data set does not hold.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import collections_service_pb2_grpc, points_service_pb2_grpc
from qdrant_client.grpc import points_pb2 as ppb

from bench.requests import query_request, upsert_request
from proxy.identity import Identity
from proxy.naming import physical_name
from tests.gatewayproc import GatewayProcess
from tests.upstream import UpstreamProcess

ROOT = Path(__file__).resolve().parent.parent
IDENTITY = "embed3@1"
BATCH = 256
CONCURRENCY = 16
META = (("x-embedding-model", IDENTITY),)
#: The direct path's second collection, whose points carry vecgate's two tags.
TAGGED = "tagged"
WARM_BLOCK = 50  # queries per path in turn, for the warm search rows


def load_wide(data_dir: Path, points: int, searches: int) -> tuple[np.ndarray, np.ndarray]:
    """1536-d vectors: MiniLM, MPNet and fine-tuned MiniLM of each text side by side."""

    def wide(arrays: Any, rows: int) -> np.ndarray:
        joined = np.concatenate([arrays[k][:rows] for k in ("minilm", "mpnet", "minilm_ft")], 1)
        joined /= np.linalg.norm(joined, axis=1, keepdims=True)
        return joined.astype(np.float32)

    with np.load(data_dir / "corpus.npz") as corpus, np.load(data_dir / "queries.npz") as queries:
        return wide(corpus, points), wide(queries, searches)


def _timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def _tags(collection: str) -> tuple[str, str] | None:
    """What vecgate's Tag filter writes, for the direct path's tagged collection only."""
    if collection != TAGGED:
        return None
    identity = Identity.parse(IDENTITY)
    return identity.model, identity.version


class Child:
    """`python -m bench.<module> ARG` as a child process that prints its port."""

    def __init__(self, module: str, arg: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"bench.{module}", arg],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(json.loads(self.proc.stdout.readline())["port"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def bench_remote(
    vectors: np.ndarray, queries: np.ndarray, work: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Direct vs through vecgate (same upstream), and the echo hop, interleaved."""
    upstream = UpstreamProcess(work / "upstream").start()
    gateway = GatewayProcess(
        work / "remote-gw", None, "--backend", upstream.url, log_file=work / "remote-gw.log"
    ).start()
    options = [("grpc.max_send_message_length", 64 << 20)]
    channels = {
        "direct": grpc.insecure_channel(f"127.0.0.1:{upstream.port}", options=options),
        "vecgate": grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}", options=options),
    }
    echo: Child | None = None
    forwarder: Child | None = None
    try:
        forwarder = Child("forwarder", f"127.0.0.1:{upstream.port}")
        channels["forwarder"] = grpc.insecure_channel(
            f"127.0.0.1:{forwarder.port}", options=options
        )
        points = {k: points_service_pb2_grpc.PointsStub(c) for k, c in channels.items()}  # type: ignore[no-untyped-call]
        params = cpb.VectorsConfig(
            params=cpb.VectorParams(size=vectors.shape[1], distance=cpb.Distance.Cosine)
        )
        for path, channel in channels.items():
            if path == "forwarder":
                continue  # it searches the direct path's collection
            stub = collections_service_pb2_grpc.CollectionsStub(channel)  # type: ignore[no-untyped-call]
            for name in (path, TAGGED) if path == "direct" else (path,):
                stub.Create(
                    cpb.CreateCollection(collection_name=name, vectors_config=params),
                    metadata=META,
                    timeout=60,
                )
        points["tagged"] = points["direct"]
        chunks = [range(i, min(i + BATCH, len(vectors))) for i in range(0, len(vectors), BATCH)]
        # The forwarder writes the direct path's collection (the same points again).
        # The tagged path is the direct one, its points tagged as vecgate tags them.
        target = {"direct": "direct", "vecgate": "vecgate", "forwarder": "direct", TAGGED: TAGGED}
        out: dict[str, Any] = {f"upsert_{path}": [] for path in target}
        for i, rows in enumerate(chunks):  # sequential upserts, the paths in turn
            for path, collection in target.items():
                request = upsert_request(collection, vectors, rows, _tags(collection))
                out[f"upsert_{path}"].append(
                    _timed(lambda: points[path].Upsert(request, metadata=META, timeout=60))  # noqa: B023
                )
            if (i + 1) % max(1, len(chunks) // 4) == 0:
                progress(f"remote upsert (sequential): {i + 1}/{len(chunks)}")
        reply = points["direct"].Query(query_request("direct", queries[0]), timeout=60)
        (work / "echo-reply.bin").write_bytes(reply.SerializeToString())
        echo = Child("echo", str(work / "echo-reply.bin"))
        channels["echo"] = grpc.insecure_channel(f"127.0.0.1:{echo.port}")
        points["echo"] = points_service_pb2_grpc.PointsStub(channels["echo"])  # type: ignore[no-untyped-call]
        # One index for every path: vecgate's partition, which the direct and forwarder
        # paths read by its physical name, so that the upstream's caches favour no path.
        partition = physical_name("vecgate", {"": Identity.parse(IDENTITY)})
        searched = {
            "direct": partition,
            "vecgate": "vecgate",
            "forwarder": partition,
            "echo": "echo",
        }
        for key, block in (("search", 1), ("warm", WARM_BLOCK)):
            out.update(_searches(points, searched, queries, block, key))
            progress(f"remote search (direct, vecgate, forwarder, echo), {block} at a time: done")
        for path, collection in target.items():
            requests = [
                upsert_request(collection, vectors, rows, _tags(collection)) for rows in chunks
            ]
            stub = points[path]

            def send(request: ppb.UpsertPoints, stub: Any = stub) -> None:
                stub.Upsert(request, metadata=META, timeout=120)

            start = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(send, requests))
            out[f"concurrent_{path}"] = len(vectors) / (time.perf_counter() - start)
            progress(f"remote upsert ({CONCURRENCY} concurrent, {path}): done")
        for path in target:
            total = sum(out[f"upsert_{path}"]) / 1000
            out[f"sequential_{path}"] = len(vectors) / total
        out["dimension"] = int(vectors.shape[1])
        return out
    finally:
        for channel in channels.values():
            channel.close()
        if echo is not None:
            echo.stop()
        if forwarder is not None:
            forwarder.stop()
        gateway.stop()
        upstream.stop()


def _searches(
    points: dict[str, Any],
    searched: dict[str, str],
    queries: np.ndarray,
    block: int,
    key: str,
) -> dict[str, list[float]]:
    """Every query on every path, `block` queries per path in turn, the paths in a fresh
    random order each turn (a call's latency depends on the one before it); ms per call."""
    out: dict[str, list[float]] = {f"{key}_{path}": [] for path in searched}
    order, shuffle = list(searched), random.Random(0).shuffle
    for start in range(0, len(queries), block):
        shuffle(order)
        for path in order:
            collection = searched[path]
            for vector in queries[start : start + block]:
                request = query_request(collection, vector)
                out[f"{key}_{path}"].append(
                    _timed(lambda: points[path].Query(request, metadata=META, timeout=60))  # noqa: B023
                )
    return out


def remote_rows(results: dict[str, Any]) -> list[tuple[str, str, list[float]]]:
    """The latency rows of the remote table."""
    return [
        ("top-10 search", "client -> Qdrant (direct)", results["search_direct"]),
        ("top-10 search", "client -> vecgate -> Qdrant", results["search_vecgate"]),
        ("top-10 search", "client -> bare forwarder -> Qdrant", results["search_forwarder"]),
        ("bare gRPC hop", "client -> echo server", results["search_echo"]),
        ("search, warm", "client -> Qdrant (direct)", results["warm_direct"]),
        ("search, warm", "client -> vecgate -> Qdrant", results["warm_vecgate"]),
        ("search, warm", "client -> bare forwarder -> Qdrant", results["warm_forwarder"]),
        ("hop, warm", "client -> echo server", results["warm_echo"]),
        ("256-point upsert", "client -> Qdrant (direct)", results["upsert_direct"]),
        ("256-point upsert", "client -> vecgate -> Qdrant", results["upsert_vecgate"]),
        ("256-point upsert", "client -> bare forwarder -> Qdrant", results["upsert_forwarder"]),
        ("256-point upsert", "client -> Qdrant, points tagged", results["upsert_tagged"]),
    ]


def remote_verdict(results: dict[str, Any], p50: Callable[[list[float]], float]) -> list[str]:
    """The ratios issue 5 sets targets for."""
    lines = []
    for key, when in (("search", "one query per path in turn"), ("warm", "warm")):
        added = p50(results[f"{key}_vecgate"]) - p50(results[f"{key}_direct"])
        hop = p50(results[f"{key}_echo"])
        floor = p50(results[f"{key}_forwarder"]) - p50(results[f"{key}_direct"])
        lines += [
            f"remote search ({when}): vecgate adds {added:.3f} ms (p50) = x{added / hop:.2f} "
            f"of one bare gRPC hop ({hop:.3f} ms); target <= x1.20",
            f"remote search ({when}): a bare Python forwarder (bytes in, bytes out, no "
            f"parsing) adds {floor:.3f} ms = x{floor / hop:.2f} of the hop; vecgate adds "
            f"{added - floor:.3f} ms more than it",
        ]
    seq = results["sequential_vecgate"] / results["sequential_direct"]
    conc = results["concurrent_vecgate"] / results["concurrent_direct"]
    return [
        *lines,
        f"remote upsert, sequential: vecgate {results['sequential_vecgate']:,.0f} points/s, "
        f"direct {results['sequential_direct']:,.0f} points/s (x{seq:.2f}; target >= x0.85)",
        f"remote upsert, {CONCURRENCY} concurrent: vecgate "
        f"{results['concurrent_vecgate']:,.0f} points/s, direct "
        f"{results['concurrent_direct']:,.0f} points/s (x{conc:.2f}; target >= x0.85)",
        "remote upsert, the bare forwarder: "
        f"x{results['sequential_forwarder'] / results['sequential_direct']:.2f} sequential, "
        f"x{results['concurrent_forwarder'] / results['concurrent_direct']:.2f} "
        f"{CONCURRENCY} concurrent, of direct",
        "remote upsert, direct with vecgate's two tag strings in every point: "
        f"x{results['sequential_tagged'] / results['sequential_direct']:.2f} sequential, "
        f"x{results['concurrent_tagged'] / results['concurrent_direct']:.2f} "
        f"{CONCURRENCY} concurrent, of direct; vecgate is "
        f"x{results['sequential_vecgate'] / results['sequential_tagged']:.2f} and "
        f"x{results['concurrent_vecgate'] / results['concurrent_tagged']:.2f} of it",
    ]
