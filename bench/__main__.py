"""Side-by-side speed of vecgate, the embedded engine in-process and qdrant-client local mode.

    python -m bench [--points 10000] [--searches 500] [--data ../shared/data/embeddings]

One run measures every system on the same real vectors (MiniLM 384-d from
shared/data/embeddings: its 6,000 passages, topped up to --points with the
fine-tuned MiniLM's vectors of the same passages) and prints one table. Progress
goes to stderr; the table to stdout; the raw figures to bench/results/latest.json.

The telemetry rows run the same searches and upserts against three gateways:
everything off (no request log, no inspection record, no tracing), and OTLP tracing
export (to a sink in this process, default batching) with the request log and the
inspection record on, sampling every trace or 10%. The gateways take turns of 50
searches (2 upserts) in a rotating order, so that the machine's changing load falls
on each alike. They compare the gateway process's CPU time per request
(/proc/<pid>/stat): rows per round of the 500 searches (10 upserts), the summary over
the whole phase including the last span export.
`--suite telemetry` runs these rows alone.

The backfill rows migrate a minilm@1 collection of --points passages to minilm@2
(`proxy.migrate_backfill.run_backfill`, whose embed function looks the fine-tuned
vectors up by text) and upsert the same vectors and payloads straight into the
engine in-process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.drift import bench_drift, drift_table  # noqa: E402
from bench.drift import stream as drift_stream  # noqa: E402
from bench.remote import bench_remote, load_wide, remote_rows, remote_verdict  # noqa: E402
from bench.requests import query_request, upsert_request  # noqa: E402
from tests.gatewayproc import GatewayProcess  # noqa: E402

BATCH = 256
IDENTITY = "minilm@1"
TARGET = "minilm@2"
ADMIN_KEY = "bench-admin"


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load(data_dir: Path, points: int, searches: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(data_dir / "corpus.npz") as corpus, np.load(data_dir / "queries.npz") as queries:
        vectors = np.concatenate([corpus["minilm"], corpus["minilm_ft"]])[:points]
        return vectors.astype(np.float32), queries["minilm"][:searches].astype(np.float32)


def load_migration(data_dir: Path, points: int) -> tuple[list[str], np.ndarray]:
    """Each point's passage text and its minilm@2 (fine-tuned MiniLM) vector.

    Point n is passage n % 6000, as in `load`; its minilm@2 vector is that passage's
    `minilm_ft` row, which is what `embed(text)` returns during the backfill.
    """
    texts = {}
    with (data_dir / "texts.jsonl").open() as lines:
        for line in lines:
            record = json.loads(line)
            texts[int(record["id"])] = record["text"]
    with np.load(data_dir / "corpus.npz") as corpus:
        ids, fine_tuned = corpus["ids"], corpus["minilm_ft"]
    rows = [n % len(ids) for n in range(points)]
    return [texts[int(ids[r])] for r in rows], fine_tuned[rows].astype(np.float32)


def timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "p99": ordered[int(0.99 * (len(ordered) - 1))],
        "mean": statistics.fmean(ordered),
    }


def run_loop(label: str, total: int, step: Callable[[int], float]) -> list[float]:
    samples = []
    for i in range(total):
        samples.append(step(i))
        if (i + 1) % max(1, total // 4) == 0 or i + 1 == total:
            progress(f"{label}: {i + 1}/{total}")
    return samples


def batches(vectors: np.ndarray) -> list[range]:
    return [range(i, min(i + BATCH, len(vectors))) for i in range(0, len(vectors), BATCH)]


# -- systems ---------------------------------------------------------------------------------


def bench_edge(vectors: np.ndarray, queries: np.ndarray, work: Path) -> dict[str, list[float]]:
    from qdrant_edge import (
        Distance,
        EdgeConfig,
        EdgeShard,
        EdgeVectorParams,
        Point,
        Query,
        QueryRequest,
        UpdateOperation,
    )

    shard = EdgeShard.create(
        str(work / "edge"),
        EdgeConfig(vectors={"": EdgeVectorParams(size=vectors.shape[1], distance=Distance.Cosine)}),
    )
    chunks = batches(vectors)

    def upsert(i: int) -> float:
        ids = chunks[i]
        return timed(
            lambda: shard.update(
                UpdateOperation.upsert_points(
                    [Point(n, vectors[n].tolist(), {"n": n}) for n in ids]
                )
            )
        )

    def search(i: int) -> float:
        query = queries[i].tolist()
        return timed(
            lambda: shard.query(
                QueryRequest(limit=10, query=Query.Nearest(query), with_payload=True)
            )
        )

    out = {"upsert": run_loop("edge upsert", len(chunks), upsert)}
    out["search"] = run_loop("edge search", len(queries), search)
    shard.close()
    return out


def bench_local(vectors: np.ndarray, queries: np.ndarray, work: Path) -> dict[str, list[float]]:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(work / "local"))
    client.create_collection(
        "bench", vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine")
    )
    chunks = batches(vectors)

    def upsert(i: int) -> float:
        points = [
            models.PointStruct(id=n, vector=vectors[n].tolist(), payload={"n": n})
            for n in chunks[i]
        ]
        return timed(lambda: client.upsert("bench", points))

    def search(i: int) -> float:
        query = queries[i].tolist()
        return timed(lambda: client.query_points("bench", query=query, limit=10))

    out = {"upsert": run_loop("local-mode upsert", len(chunks), upsert)}
    out["search"] = run_loop("local-mode search", len(queries), search)
    client.close()
    return out


def bench_vecgate(vectors: np.ndarray, queries: np.ndarray, work: Path) -> dict[str, Any]:
    import grpc
    from qdrant_client import models
    from qdrant_client.grpc import qdrant_pb2, qdrant_pb2_grpc

    gateway = GatewayProcess(work / "vecgate", log_file=work / "vecgate.log").start()
    try:
        client = gateway.client(IDENTITY)
        client.create_collection(
            "bench", vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine")
        )
        chunks = batches(vectors)
        metadata = (("x-embedding-model", IDENTITY),)
        stub = client.grpc_points

        def upsert_stub(i: int) -> float:
            request = upsert_request("bench", vectors, chunks[i])
            return timed(lambda: stub.Upsert(request, metadata=metadata, timeout=60))

        def search_stub(i: int) -> float:
            request = query_request("bench", queries[i])
            return timed(lambda: stub.Query(request, metadata=metadata, timeout=60))

        def search_client(i: int) -> float:
            query = queries[i].tolist()
            return timed(lambda: client.query_points("bench", query=query, limit=10))

        def upsert_client(i: int) -> float:
            points = [
                models.PointStruct(id=n, vector=vectors[n].tolist(), payload={"n": n})
                for n in chunks[i]
            ]
            return timed(lambda: client.upsert("bench", points))

        root = qdrant_pb2_grpc.QdrantStub(grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}"))

        def health(i: int) -> float:
            return timed(lambda: root.HealthCheck(qdrant_pb2.HealthCheckRequest(), timeout=60))

        out: dict[str, Any] = {
            "upsert": run_loop("vecgate upsert (gRPC stub)", len(chunks), upsert_stub)
        }
        out["health"] = run_loop("vecgate HealthCheck (gRPC floor)", len(queries), health)
        out["search"] = run_loop("vecgate search (gRPC stub)", len(queries), search_stub)
        out["search_client"] = run_loop(
            "vecgate search (qdrant-client)", len(queries), search_client
        )
        small = chunks[: max(4, len(chunks) // 4)]
        out["upsert_client"] = run_loop("vecgate upsert (qdrant-client)", len(small), upsert_client)
        time.sleep(0.3)  # let the last log lines arrive
        policy: dict[str, list[float]] = {}
        served: dict[str, list[float]] = {}
        backend: dict[str, list[float]] = {}
        for record in gateway.requests():
            policy.setdefault(record["method"], []).append(record["policy_ms"])
            served.setdefault(record["method"], []).append(record["latency_ms"])
            backend.setdefault(record["method"], []).append(record["backend_ms"])
        out["backend_search"] = backend.get("Points/Query", [])
        out["backend_upsert"] = backend.get("Points/Upsert", [])
        out["server_search"] = served.get("Points/Query", [])
        out["server_upsert"] = served.get("Points/Upsert", [])
        out["policy_search"] = policy.get("Points/Query", [])
        out["policy_upsert"] = policy.get("Points/Upsert", [])
        return out
    finally:
        gateway.stop()


def bench_backfill(
    vectors: np.ndarray, texts: list[str], targets: np.ndarray, work: Path
) -> dict[str, Any]:
    """Backfill throughput: vecgate's backlog stream + upserts vs the engine in-process."""
    import grpc
    from qdrant_client import models
    from qdrant_client.grpc import points_pb2 as ppb
    from qdrant_edge import (
        Distance,
        EdgeConfig,
        EdgeShard,
        EdgeVectorParams,
        Point,
        ScrollRequest,
        UpdateOperation,
    )

    from proxy.admin.generated import admin_pb2, admin_pb2_grpc
    from proxy.config import TagConfig, hash_key
    from proxy.identity import Identity
    from proxy.migrate_backfill import run_backfill

    config = f'[[keys]]\nname = "bench"\nsha256 = "{hash_key(ADMIN_KEY)}"\nrole = "admin"\n'
    chunks = batches(vectors)
    by_text: dict[str, int] = {}
    for n, text in enumerate(texts):
        by_text.setdefault(text, n)  # a passage repeated past 6,000 has the same vector

    def embed(batch: list[str]) -> np.ndarray:  # a float32 matrix, as models return
        return targets[[by_text[text] for text in batch]]

    out: dict[str, Any] = {}
    gateway = GatewayProcess(work / "backfill", config, log_file=work / "backfill.log").start()
    try:
        client = gateway.client(IDENTITY)
        client.create_collection(
            "backfill",
            vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine"),
        )
        for i, ids in enumerate(chunks):
            request = ppb.UpsertPoints(collection_name="backfill", wait=True)
            for n in ids:
                point = request.points.add()
                point.id.num = n
                point.vectors.vector.dense.data.extend(vectors[n].tolist())
                point.payload["n"].integer_value = n
                point.payload["text"].string_value = texts[n]
            client.grpc_points.Upsert(
                request, metadata=(("x-embedding-model", IDENTITY),), timeout=60
            )
            if (i + 1) % max(1, len(chunks) // 4) == 0 or i + 1 == len(chunks):
                progress(f"backfill: {IDENTITY} source {i + 1}/{len(chunks)} batches")
        meta = (("api-key", ADMIN_KEY),)
        with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
            admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
            admin.StartMigration(
                admin_pb2.StartMigrationRequest(
                    collection="backfill", to=TARGET, dimension=vectors.shape[1], distance="Cosine"
                ),
                metadata=meta,
                timeout=60,
            )
            pages = [time.perf_counter()]
            for _ in admin.StreamBacklog(  # the stream alone, read and discarded
                admin_pb2.BacklogRequest(  # as run_backfill asks for it
                    collection="backfill", page_size=BATCH, as_points=True
                ),
                metadata=meta,
                timeout=300,
            ):
                pages.append(time.perf_counter())
            out["backlog"] = [(b - a) * 1000 for a, b in itertools.pairwise(pages)]
            progress(f"backfill: backlog streamed alone, {len(pages) - 1} pages")
            marks = [time.perf_counter()]

            def step(done: int, total: int) -> None:
                marks.append(time.perf_counter())
                if len(marks) % max(1, len(chunks) // 4) == 1 or done == total:
                    progress(f"backfill via vecgate: {done}/{total} points")

            stats = run_backfill(
                f"127.0.0.1:{gateway.grpc_port}",
                ADMIN_KEY,
                "backfill",
                embed,
                "text",
                batch_size=BATCH,
                progress=step,
            )
            ledger = admin.GetMigration(
                admin_pb2.GetMigrationRequest(collection="backfill", ledger=True),
                metadata=meta,
                timeout=60,
            ).ledger
        if (stats.points, ledger.covered, ledger.missing) != (len(vectors), len(vectors), 0):
            raise RuntimeError(f"backfill incomplete: {stats}, ledger {ledger}")
        out["vecgate"] = [(b - a) * 1000 for a, b in itertools.pairwise(marks)]
        out["vecgate_rate"] = stats.points / stats.seconds
        time.sleep(0.3)  # let the last log lines arrive
        written = [
            r
            for r in gateway.requests()
            if r["method"] == "Points/Upsert" and r["identity"] == TARGET
        ]
        out["server_upsert"] = [r["latency_ms"] for r in written]
        out["backend_upsert"] = [r["backend_ms"] for r in written]
    finally:
        gateway.stop()

    # The baseline: the same points upserted in-process, as an application would without
    # vecgate. Beside it, batch by batch, the engine work no backfill can skip, in-process:
    # read the batch's page of source points (ids, payload), look its ids up in the target,
    # and write the points with the two tag entries every point written through vecgate
    # carries. Its rate over the baseline's is the ceiling of any backfill on this engine.
    config_edge = EdgeConfig(
        vectors={"": EdgeVectorParams(size=vectors.shape[1], distance=Distance.Cosine)}
    )
    plain = EdgeShard.create(str(work / "edge-backfill"), config_edge)
    tagged = EdgeShard.create(str(work / "edge-backfill-tagged"), config_edge)
    target, keys = Identity.parse(TARGET), TagConfig()
    tags = {keys.model_key: target.model, keys.version_key: target.version}
    out["edge_floor"] = []

    def engine_floor(ids: range) -> None:
        page, _ = plain.scroll(
            ScrollRequest(offset=ids[0], limit=len(ids), with_payload=True, with_vector=False)
        )
        tagged.retrieve([r.id for r in page], False, False)
        points = [
            Point(r.id, targets[int(r.id)].tolist(), {**(r.payload or {}), **tags}) for r in page
        ]
        tagged.update(UpdateOperation.upsert_points(points))

    def upsert(i: int) -> float:
        ids = chunks[i]
        took = timed(
            lambda: plain.update(
                UpdateOperation.upsert_points(
                    [Point(n, targets[n].tolist(), {"n": n, "text": texts[n]}) for n in ids]
                )
            )
        )
        out["edge_floor"].append(timed(lambda: engine_floor(ids)))
        return took

    out["edge"] = run_loop("backfill, engine in-process (and its floor)", len(chunks), upsert)
    out["edge_rate"] = len(vectors) / (sum(out["edge"]) / 1000)
    out["edge_floor_rate"] = len(vectors) / (sum(out["edge_floor"]) / 1000)
    plain.close()
    tagged.close()
    return out


TELEMETRY_OFF = "[server]\nlog_requests = false\n[telemetry]\ninspect_records = 0\n"
TELEMETRY_ON = '[telemetry]\nendpoint = "{endpoint}"\ninspect_records = 1000\n'
CPU_BLOCK = 50  # searches per gateway turn; the gateways take turns in a rotating order
ROUNDS = 6  # the searches run this often on each gateway (--telemetry-rounds)
UPSERT_BLOCK = 2  # upserts per gateway turn
UPSERT_ROUNDS = 4  # the upserts are cut into this many rows
TELEMETRY_TARGET = 15.0  # % of extra gateway CPU per request allowed with everything on
EXPORT_DELAY = 5.5  # seconds: the batch span processor exports every 5 s by default
_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, every thread included (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def bench_telemetry(
    vectors: np.ndarray, queries: np.ndarray, work: Path, rounds: int = ROUNDS
) -> dict[str, Any]:
    """Gateway CPU per request, telemetry all off vs traces + logs + inspection on."""
    from qdrant_client import models

    from tests.otlp import Receiver

    sink, sampled_sink = Receiver().start(), Receiver().start()
    gateways = {
        "off": GatewayProcess(work / "t-off", TELEMETRY_OFF, log_file=work / "t-off.log"),
        "on": GatewayProcess(
            work / "t-on", TELEMETRY_ON.format(endpoint=sink.endpoint), log_file=work / "t-on.log"
        ),
        "sampled": GatewayProcess(
            work / "t-sampled",
            TELEMETRY_ON.format(endpoint=sampled_sink.endpoint) + "sample_ratio = 0.1\n",
            log_file=work / "t-sampled.log",
        ),
    }
    out: dict[str, Any] = {}
    try:
        for gateway in gateways.values():
            gateway.start()
        metadata = (("x-embedding-model", IDENTITY),)
        chunks = batches(vectors)
        upserts = [upsert_request("bench", vectors, ids) for ids in chunks]
        searches = [query_request("bench", query) for query in queries]
        clients = {name: gateway.client(IDENTITY) for name, gateway in gateways.items()}
        stubs = {}
        for name, client in clients.items():  # kept alive: a collected client closes its channel
            client.create_collection(
                "bench",
                vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine"),
            )
            stubs[name] = client.grpc_points

        sent = 0
        cpu: dict[str, dict[str, list[float]]] = {n: {"search": [], "upsert": []} for n in stubs}
        totals: dict[str, float] = {}

        def flushed(kind: str, requests: int, start: dict[str, float]) -> None:
            """Wait for the batch processors' scheduled export (5 s) of every span sent,
            then charge each gateway's whole CPU time since `start` to `requests`."""
            nonlocal sent
            sent += 2 * requests  # a server span and a backend span per request
            sink.wait_for(sent, timeout=30)
            time.sleep(EXPORT_DELAY)  # the sampled gateway's last batch, counted unknown
            for name, gateway in gateways.items():
                used = process_cpu(gateway.proc.pid) - start[name]  # type: ignore[union-attr]
                totals[f"{kind}_{name}"] = used * 1000 / requests

        def cpu_now() -> dict[str, float]:
            return {n: process_cpu(g.proc.pid) for n, g in gateways.items()}  # type: ignore[union-attr]

        def interleaved(kind: str, requests: list[Any], call: str, block: int, rounds: int) -> None:
            """Run `requests` `rounds` times on every gateway, `block` at a time, taking the
            gateways in a rotating order so that the machine's load falls on each alike;
            one row value per gateway and round: its CPU in that round per request."""
            names = list(stubs)
            for _ in range(rounds):
                used = dict.fromkeys(names, 0.0)
                for b, at in enumerate(range(0, len(requests), block)):
                    chunk = requests[at : at + block]
                    for name in names[b % len(names) :] + names[: b % len(names)]:
                        pid = gateways[name].proc.pid  # type: ignore[union-attr]
                        rpc = getattr(stubs[name], call)
                        before = process_cpu(pid)
                        for request in chunk:
                            rpc(request, metadata=metadata, timeout=60)
                        used[name] += process_cpu(pid) - before
                for name in names:
                    cpu[name][kind].append(used[name] * 1000 / len(requests))
                progress(f"telemetry CPU: {kind} row {len(cpu[names[0]][kind])} on each gateway")

        start = cpu_now()
        per_round = len(upserts) // UPSERT_ROUNDS
        for at in range(0, per_round * UPSERT_ROUNDS, per_round):
            interleaved("upsert", upserts[at : at + per_round], "Upsert", UPSERT_BLOCK, 1)
        flushed("upsert", per_round * UPSERT_ROUNDS, start)
        start = cpu_now()
        interleaved("search", searches, "Query", CPU_BLOCK, rounds)
        flushed("search", rounds * len(searches), start)
        out = {f"{kind}_{name}": cpu[name][kind] for name in cpu for kind in ("search", "upsert")}
        out["totals"] = totals
        out["spans"] = len(sink.spans)
        out["spans_expected"] = sent
    finally:
        for gateway in gateways.values():
            gateway.stop()
        sink.stop()
        sampled_sink.stop()
    if out["spans"] < out["spans_expected"]:
        raise RuntimeError(f"the sink received {out['spans']} of {out['spans_expected']} spans")
    return out


def telemetry_rows(results: dict[str, Any]) -> list[tuple[str, str, list[float]]]:
    t = results["telemetry"]
    return [
        ("CPU / search", "vecgate, telemetry all off", t["search_off"]),
        ("CPU / search", "vecgate, traces+logs+inspect", t["search_on"]),
        ("CPU / search", "same, 10% of traces sampled", t["search_sampled"]),
        ("CPU / upsert 256", "vecgate, telemetry all off", t["upsert_off"]),
        ("CPU / upsert 256", "vecgate, traces+logs+inspect", t["upsert_on"]),
        ("CPU / upsert 256", "same, 10% of traces sampled", t["upsert_sampled"]),
    ]


def telemetry_summary(results: dict[str, Any]) -> list[str]:
    t = results["telemetry"]
    lines = []
    for kind in ("search", "upsert"):
        off, on, sampled = (t["totals"][f"{kind}_{n}"] for n in ("off", "on", "sampled"))
        extra = (on / off - 1) * 100
        verdict = "met" if extra <= TELEMETRY_TARGET else "NOT met"
        lines.append(
            f"telemetry: {kind} costs {on:.3f} ms CPU with traces+logs+inspect on, {off:.3f} ms "
            f"all off ({extra:+.1f}%; target <= +{TELEMETRY_TARGET:.0f}%: {verdict}); 10% "
            f"sampled: {sampled:.3f} ms ({(sampled / off - 1) * 100:+.1f}%); whole-run CPU "
            "incl. export"
        )
    return lines


# -- report -----------------------------------------------------------------------------------


def format_rows(rows: list[tuple[str, str, list[float]]]) -> list[str]:
    lines = []
    for op, system, samples in rows:
        s = summary(samples)
        lines.append(
            f"{op:<22}{system:<30}{s['n']:>6}{s['p50']:>9.3f}{s['p95']:>9.3f}{s['mean']:>9.3f}"
        )
    return lines


HEADER = f"{'operation':<22}{'system':<30}{'n':>6}{'p50':>9}{'p95':>9}{'mean':>9}"


def table(results: dict[str, dict[str, Any]], points: int) -> str:
    rows = [
        ("top-10 search", "vecgate (gRPC stub)", results["vecgate"]["search"]),
        ("top-10 search", "vecgate (qdrant-client)", results["vecgate"]["search_client"]),
        ("top-10 search", "embedded engine in-process", results["edge"]["search"]),
        ("top-10 search", "qdrant-client local mode", results["local"]["search"]),
        ("256-point upsert", "vecgate (gRPC stub)", results["vecgate"]["upsert"]),
        ("256-point upsert", "vecgate (qdrant-client)", results["vecgate"]["upsert_client"]),
        ("256-point upsert", "embedded engine in-process", results["edge"]["upsert"]),
        ("256-point upsert", "qdrant-client local mode", results["local"]["upsert"]),
        ("gRPC round trip", "vecgate HealthCheck", results["vecgate"]["health"]),
        ("server time / search", "vecgate, request log", results["vecgate"]["server_search"]),
        ("server time / upsert", "vecgate, request log", results["vecgate"]["server_upsert"]),
        ("engine time / search", "vecgate, request log", results["vecgate"]["backend_search"]),
        ("engine time / upsert", "vecgate, request log", results["vecgate"]["backend_upsert"]),
        ("policy time / search", "vecgate filter chain", results["vecgate"]["policy_search"]),
        ("policy time / upsert", "vecgate filter chain", results["vecgate"]["policy_upsert"]),
        ("backfill, 256 points", "vecgate run_backfill", results["backfill"]["vecgate"]),
        ("backfill, 256 points", "embedded engine in-process", results["backfill"]["edge"]),
        (
            "backfill, 256 points",
            "engine: page read + tagged",
            results["backfill"]["edge_floor"],
        ),
        ("backfill backlog page", "vecgate StreamBacklog alone", results["backfill"]["backlog"]),
        ("backfill server time", "vecgate, request log", results["backfill"]["server_upsert"]),
        ("backfill engine time", "vecgate, request log", results["backfill"]["backend_upsert"]),
    ]
    lines = [f"{points} points x 384 dims, real MiniLM vectors; times in ms", HEADER]
    lines += format_rows(rows)
    v, e, loc = (summary(results[k]["search"])["p50"] for k in ("vecgate", "edge", "local"))
    vu, eu = (summary(results[k]["upsert"])["p50"] for k in ("vecgate", "edge"))
    bv, be = results["backfill"]["vecgate_rate"], results["backfill"]["edge_rate"]
    bt = results["backfill"]["edge_floor_rate"]
    lines += [
        "",
        f"search: vecgate adds {v - e:.3f} ms (p50) over the engine in-process "
        f"(x{v / e:.2f}); local mode is x{loc / v:.1f} slower than vecgate",
        f"upsert: vecgate adds {vu - eu:.3f} ms (p50) per 256 points over the engine in-process "
        f"(x{vu / eu:.2f})",
        f"backfill: vecgate {bv:,.0f} points/s, engine in-process {be:,.0f} points/s "
        f"(x{bv / be:.2f} of in-process; target >= x0.80)",
        f"backfill ceiling: the engine in-process reading each page and writing it with the "
        f"two tag entries: {bt:,.0f} points/s (x{bt / be:.2f} of in-process)",
    ]
    return "\n".join(lines)


def remote_table(results: dict[str, Any], points: int) -> str:
    lines = [
        f"vecgate in front of a Qdrant server: {points} points x {results['dimension']} dims; "
        "times in ms",
        f"{'operation':<22}{'path':<38}{'n':>6}{'p50':>9}{'p99':>9}{'mean':>9}",
    ]
    for op, path, samples in remote_rows(results):
        s = summary(samples)
        lines.append(
            f"{op:<22}{path:<38}{s['n']:>6}{s['p50']:>9.3f}{s['p99']:>9.3f}{s['mean']:>9.3f}"
        )
    return "\n".join([*lines, "", *remote_verdict(results, lambda s: summary(s)["p50"])])


def telemetry_table(results: dict[str, dict[str, Any]], points: int) -> str:
    lines = [f"{points} points x 384 dims, real MiniLM vectors; CPU ms per request", HEADER]
    return "\n".join(
        [*lines, *format_rows(telemetry_rows(results)), "", *telemetry_summary(results)]
    )


def milvus_table(results: dict[str, Any], points: int) -> str:
    from bench.milvus import milvus_rows, milvus_verdict

    lines = [
        f"vecgate in front of milvus-lite vs pymilvus direct: {points} points x "
        f"{results['dimension']} dims, real MiniLM vectors; times in ms",
        f"{'operation':<22}{'path':<36}{'n':>6}{'p50':>9}{'p99':>9}{'mean':>9}",
    ]
    for op, path, samples in milvus_rows(results):
        s = summary(samples)
        lines.append(
            f"{op:<22}{path:<36}{s['n']:>6}{s['p50']:>9.3f}{s['p99']:>9.3f}{s['mean']:>9.3f}"
        )
    return "\n".join([*lines, "", *milvus_verdict(results, lambda s: summary(s)["p50"])])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "embeddings")
    parser.add_argument(
        "--suite",
        choices=("all", "core", "telemetry", "remote", "milvus", "drift", "bridge"),
        default="all",
        help=(
            "core: embedded engine rows; telemetry: gateway CPU with telemetry on and off; "
            "remote: vecgate in front of a Qdrant server; milvus: vecgate in front of "
            "milvus-lite vs pymilvus direct; drift: upserts with the drift watch on vs off; "
            "bridge: bridged queries vs native ones on the same index"
        ),
    )
    parser.add_argument(
        "--telemetry-rounds",
        type=int,
        default=ROUNDS,
        help="times the telemetry rows run the searches on each gateway (longer: steadier)",
    )
    parser.add_argument("--remote-points", type=int, default=5_120)
    parser.add_argument("--milvus-points", type=int, default=4_096)
    parser.add_argument(
        "--drift-points",
        type=int,
        default=204_800,
        help=(
            "points upserted to each drift gateway: long enough for a steady state, where"
            " the watch's starting CPU credit (0.1 s) is a small share of the run"
        ),
    )
    args = parser.parse_args()
    if not (args.data / "corpus.npz").exists():
        print(
            f"bench: {args.data}/corpus.npz not found; pass --data DIR (shared/data/embeddings)",
            file=sys.stderr,
        )
        return 2
    work = Path(tempfile.mkdtemp(prefix=f"vecgate-bench-{uuid.uuid4().hex[:6]}-"))
    results: dict[str, dict[str, Any]] = {}
    reports: list[str] = []
    try:
        if args.suite in ("all", "core", "telemetry"):
            vectors, queries = load(args.data, args.points, args.searches)
            progress(f"{len(vectors)} vectors, {len(queries)} queries")
        if args.suite in ("all", "core"):
            texts, targets = load_migration(args.data, len(vectors))
            results["vecgate"] = bench_vecgate(vectors, queries, work)
            results["edge"] = bench_edge(vectors, queries, work)
            results["local"] = bench_local(vectors, queries, work)
            results["backfill"] = bench_backfill(vectors, texts, targets, work)
            reports.append(table(results, len(vectors)))
        if args.suite in ("all", "telemetry"):
            results["telemetry"] = bench_telemetry(vectors, queries, work, args.telemetry_rounds)
            reports.append(telemetry_table(results, len(vectors)))
        if args.suite in ("all", "remote"):
            wide, wide_queries = load_wide(args.data, args.remote_points, args.searches)
            progress(f"remote: {len(wide)} vectors x {wide.shape[1]}, {len(wide_queries)} queries")
            results["remote"] = bench_remote(wide, wide_queries, work, progress)
            reports.append(remote_table(results["remote"], len(wide)))
        if args.suite in ("all", "milvus"):
            from bench.milvus import bench_milvus

            vectors, queries = load(args.data, args.milvus_points, args.searches)
            progress(f"milvus: {len(vectors)} vectors x {vectors.shape[1]}, {len(queries)} queries")
            results["milvus"] = bench_milvus(vectors, queries, work, progress)
            reports.append(milvus_table(results["milvus"], len(vectors)))
        if args.suite in ("all", "drift"):
            with np.load(args.data / "corpus.npz") as corpus:
                minilm = corpus["minilm"].astype(np.float32)
            texts, fine_tuned = load_migration(args.data, len(minilm))
            requests = drift_stream(minilm, fine_tuned, texts, args.drift_points)
            progress(f"drift: {len(requests)} upserts of 256 points")
            results["drift"] = bench_drift(requests, minilm.shape[1], work, progress)
            reports.append(drift_table(results["drift"]))
        if args.suite in ("all", "bridge"):
            from bench.bridge import bench_bridge, bridge_table

            results["bridge"] = bench_bridge(args.data, work, args.searches, progress)
            reports.append(bridge_table(results["bridge"], summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n\n".join(reports))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(
            {
                k: {
                    op: summary(s) if isinstance(s, list) and not isinstance(s[0], dict) else s
                    for op, s in v.items()
                }
                for k, v in results.items()
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
