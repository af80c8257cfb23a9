"""Bench rows: upsert throughput with the drift watch on against off, side by side.

Two gateways on the embedded engine, identical but for ``[drift] enabled``; the same
256-point upserts of real MiniLM vectors with a ``text`` payload (so the re-upsert
check hashes every point), rounds alternating off/on. Measured: client-side latency
per upsert, and the gateway process's CPU time (user + system, /proc) per upsert,
counted until the watch has drained its queue, so the work done off the request
path is charged to the upserts that caused it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess

ADMIN_KEY = "bench-admin"
IDENTITY = "minilm@1"
BATCH = 256
ROUNDS = 3


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(enabled: bool) -> str:
    return (
        f"[drift]\nenabled = {'true' if enabled else 'false'}\n"
        f'[[keys]]\nname = "bench"\nsha256 = "{hash_key(ADMIN_KEY)}"\nrole = "admin"\n'
    )


def _one(
    enabled: bool, vectors: np.ndarray, texts: list[str], work: Path, tag: str
) -> dict[str, Any]:
    from qdrant_client.grpc import points_pb2 as ppb

    gateway = GatewayProcess(work / tag, _config(enabled), log_file=work / f"{tag}.log").start()
    try:
        client = gateway.client(IDENTITY)
        from qdrant_client import models

        client.create_collection(
            "bench", vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine")
        )
        requests = []
        for start in range(0, len(vectors), BATCH):
            request = ppb.UpsertPoints(collection_name="bench", wait=True)
            for n in range(start, min(start + BATCH, len(vectors))):
                point = request.points.add()
                point.id.num = n
                point.vectors.vector.dense.data.extend(vectors[n].tolist())
                point.payload["text"].string_value = texts[n]
            requests.append(request)
        metadata = (("x-embedding-model", IDENTITY),)
        assert gateway.proc is not None
        pid = gateway.proc.pid
        cpu_before = _cpu_seconds(pid)
        wall = time.perf_counter()
        latencies = []
        for request in requests:
            t0 = time.perf_counter()
            client.grpc_points.Upsert(request, metadata=metadata, timeout=60)
            latencies.append((time.perf_counter() - t0) * 1000)
        dropped = skipped = 0
        if enabled:  # charge the watch's queued work to these upserts
            with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
                admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
                meta = (("api-key", ADMIN_KEY),)
                while True:
                    reply = admin.GetDrift(admin_pb2.GetDriftRequest(), metadata=meta, timeout=30)
                    if reply.queued == 0:
                        break
                    time.sleep(0.01)
                dropped, skipped = reply.dropped, reply.skipped
        seconds = time.perf_counter() - wall
        cpu = _cpu_seconds(pid) - cpu_before
        return {
            "latency": latencies,
            "cpu_ms_per_upsert": cpu * 1000 / len(requests),
            "points_per_second": len(vectors) / seconds,
            "dropped": dropped,
            "skipped": skipped,
            "batches": len(requests),
        }
    finally:
        gateway.stop()


def bench_drift(
    vectors: np.ndarray, texts: list[str], work: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Alternating rounds, off then on; every figure per round."""
    out: dict[str, Any] = {"off": [], "on": []}
    for round_ in range(ROUNDS):
        for enabled in (False, True):
            label = "on" if enabled else "off"
            out[label].append(_one(enabled, vectors, texts, work, f"drift-{label}-{round_}"))
            progress(f"drift watch {label}, round {round_ + 1}/{ROUNDS}")
    return out


def drift_table(results: dict[str, Any], points: int) -> str:
    """Rows side by side, then the verdict against the 5 % target."""

    def pooled(label: str) -> list[float]:
        return [x for run in results[label] for x in run["latency"]]

    def mean(label: str, key: str) -> float:
        return float(np.mean([run[key] for run in results[label]]))

    lines = [
        f"drift watch: {points} points x 384 dims, real MiniLM vectors with a text payload, "
        f"{BATCH}-point upserts, {ROUNDS} alternating rounds",
        f"{'measure':<34}{'watch off':>12}{'watch on':>12}{'on/off':>9}",
    ]
    rows = [
        (
            "upsert p50 latency (ms)",
            float(np.median(pooled("off"))),
            float(np.median(pooled("on"))),
        ),
        (
            "upsert p95 latency (ms)",
            float(np.quantile(pooled("off"), 0.95)),
            float(np.quantile(pooled("on"), 0.95)),
        ),
        (
            "gateway CPU per upsert (ms)",
            mean("off", "cpu_ms_per_upsert"),
            mean("on", "cpu_ms_per_upsert"),
        ),
        (
            "throughput (points/s)",
            mean("off", "points_per_second"),
            mean("on", "points_per_second"),
        ),
    ]
    for label, off, on in rows:
        lines.append(f"{label:<34}{off:>12.3f}{on:>12.3f}{on / off:>9.3f}")
    cpu_off, cpu_on = mean("off", "cpu_ms_per_upsert"), mean("on", "cpu_ms_per_upsert")
    dropped = sum(run["dropped"] for run in results["on"])
    skipped = sum(run["skipped"] for run in results["on"])
    batches = sum(run["batches"] for run in results["on"])
    share = (cpu_on - cpu_off) / cpu_off * 100
    lines += [
        "",
        f"drift watch costs {cpu_on - cpu_off:.3f} ms of gateway CPU per 256-point upsert "
        f"({share:+.1f}% of upsert CPU; target <= 5%); batches dropped: {dropped}; skipped by the "
        f"{1000:.0f} vectors/s intake: {skipped} of {batches}",
    ]
    return "\n".join(lines)
