"""Bench rows and figures of the cross-version query bridge, on the full data set.

A gateway on the embedded engine holds one collection under three versions: minilm@1
(the index that answers), minilm@2 (the fine-tuned MiniLM) and mpnet@1 (768-d), each
with all 6,000 passages, so every passage is a pair. Two uses:

- `bridge_figures`: `TrainBridge` (the RPC behind `vecgate bridge train`) with 2%, 5%
  and 10% of the pairs, judged on 20% held-out pairs and on the 500 labelled queries.
- `bench_bridge` (`python -m bench --suite bridge`): top-10 queries on the minilm@1
  index, native (minilm@1 vectors) and bridged (minilm@2 and mpnet@1 vectors through
  their maps), interleaved in one run, each round in a fresh random order (a query's
  latency depends on the one before it); client-side latency, plus the time
  of the map step itself (`ApplyBridge` on a parsed request) measured in-process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from qdrant_client.grpc import points_pb2 as ppb

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess

ADMIN_KEY = "bench-admin"
META = (("api-key", ADMIN_KEY),)
V1, V2, MPNET = "minilm@1", "minilm@2", "mpnet@1"
SOURCES = {V2: "minilm_ft", MPNET: "mpnet"}
COLLECTION = "bench"
SHARES = (0.02, 0.05, 0.10)


def _config() -> str:
    return f'[[keys]]\nname = "bench"\nsha256 = "{hash_key(ADMIN_KEY)}"\nrole = "admin"\n'


def load(data_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Corpus and query vectors by version key, plus ids and labels."""
    with np.load(data_dir / "corpus.npz") as c, np.load(data_dir / "queries.npz") as q:
        corpus = {k: c[k] for k in ("ids", "minilm", "minilm_ft", "mpnet")}
        queries = {k: q[k] for k in ("source_doc", "minilm", "minilm_ft", "mpnet")}
    return corpus, queries


def start(work: Path, corpus: dict[str, np.ndarray], progress: Callable[[str], None]) -> Any:
    """A gateway whose collection holds every passage under the three versions."""
    gateway = GatewayProcess(work / "bridge", _config(), log_file=work / "bridge.log").start()
    for identity, key in ((V1, "minilm"), (V2, "minilm_ft"), (MPNET, "mpnet")):
        vectors = corpus[key]
        client = gateway.client(identity)
        from qdrant_client import models

        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine"),
        )
        for begin in range(0, len(vectors), 500):
            request = ppb.UpsertPoints(collection_name=COLLECTION, wait=True)
            for n in range(begin, min(begin + 500, len(vectors))):
                point = request.points.add()
                point.id.num = int(corpus["ids"][n])
                point.vectors.vector.dense.data.extend(vectors[n].tolist())
            client.grpc_points.Upsert(request, metadata=(("x-embedding-model", identity),))
        progress(f"bridge: {len(vectors)} points under {identity}")
    return gateway


def _train(admin: Any, source: str, share: float, queries: dict[str, np.ndarray]) -> Any:
    golden = [
        admin_pb2.BridgeQuery(
            from_vector=queries[SOURCES[source]][i].tolist(),
            to_vector=queries["minilm"][i].tolist(),
            relevant_ids=[str(int(queries["source_doc"][i]))],
        )
        for i in range(len(queries["minilm"]))
    ]
    request = admin_pb2.TrainBridgeRequest(
        collection=COLLECTION, from_version=source, to_version=V1, fit_share=share, queries=golden
    )
    return admin.TrainBridge(request, metadata=META, timeout=600)


def bridge_figures(data_dir: Path, work: Path, progress: Callable[[str], None]) -> list[Any]:
    """Every `TrainBridge` view: both sources, each share."""
    corpus, queries = load(data_dir)
    gateway = start(work, corpus, progress)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
            admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
            views = []
            for source in SOURCES:
                for share in SHARES:
                    started = time.perf_counter()
                    views.append(_train(admin, source, share, queries))
                    progress(
                        f"bridge train {source} -> {V1}, {share:.0%} of pairs: "
                        f"{time.perf_counter() - started:.1f} s"
                    )
            return views
    finally:
        gateway.stop()


def figures_table(views: list[Any]) -> str:
    """Overlap and recall@10 of every map and of no map, per source and share."""
    lines = [
        "bridge train on shared/data/embeddings: 6,000 pairs, 1,200 held out (seed 0), "
        "500 labelled queries; top-10 overlap with minilm@1's own query vectors / "
        "recall@10 of the source passage",
        f"{'from':<10}{'pairs':>7}  {'set':<8}{'no map':>14}{'procrustes':>14}{'ridge':>14}"
        f"{'ridge_identity':>16}  {'chosen (rank)':<20}{'floor':<6}",
    ]
    for view in views:
        chosen = f"{view.kind} ({view.rank})" if view.rank else view.kind
        for item in view.sets:
            none = (
                f"{item.no_map.overlap:.3f}/{item.no_map.recall:.3f}" if item.comparable else "n/a"
            )
            cells = [
                f"{item.maps[k].overlap:.3f}/{item.maps[k].recall:.3f}" if k in item.maps else "-"
                for k in ("procrustes", "ridge", "ridge_identity")
            ]
            lines.append(
                f"{view.from_version:<10}{view.fit_pairs:>7}  {item.name:<8}{none:>14}"
                f"{cells[0]:>14}{cells[1]:>14}{cells[2]:>16}  {chosen:<20}"
                f"{'pass' if view.passed else 'FAIL':<6}"
            )
        lines.append(
            f"{'':<17}minilm@1's own recall@10 (queries): {view.sets[-1].reference_recall:.3f}"
        )
    return "\n".join(lines)


# -- latency --------------------------------------------------------------------------------


def _map_step_us(admin: Any, source: str, vectors: np.ndarray, repeats: int) -> list[float]:
    """Microseconds of the map step alone (ApplyBridge.on_request), in this process."""
    from proxy.bridge.fit import LinearMap
    from proxy.envelope import Envelope
    from proxy.filters.bridge import ApplyBridge
    from proxy.frontend.ops import OPS
    from proxy.frontend.walk import query_shape

    exported = admin.ExportBridge(
        admin_pb2.ExportBridgeRequest(collection=COLLECTION, from_version=source), metadata=META
    )
    weights = np.frombuffer(exported.weights, "<f4").reshape(
        exported.dimension_in, exported.dimension_out
    )
    bias = np.frombuffer(exported.bias, "<f4").copy()
    linear = LinearMap(exported.kind, weights.copy(), bias, exported.rank)

    class _Bridge:  # what ApplyBridge reads of a LiveBridge
        def __init__(self) -> None:
            self.linear = linear

    op = OPS["/qdrant.Points/Query"]
    step = ApplyBridge()
    samples = []
    for i in range(repeats):
        request = ppb.QueryPoints(collection_name=COLLECTION, limit=10)
        request.query.nearest.dense.data.extend(vectors[i % len(vectors)].tolist())
        env = Envelope(op, request, {})
        env.shape = query_shape(op.name, request)
        env.bridge = _Bridge()  # type: ignore[assignment]
        started = time.perf_counter()
        step.on_request(env)
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def bench_bridge(
    data_dir: Path, work: Path, searches: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Native and bridged queries on the same minilm@1 index, interleaved; map step alone."""
    corpus, queries = load(data_dir)
    gateway = start(work, corpus, progress)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
            admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
            for source in SOURCES:
                view = _train(admin, source, 0.10, queries)
                admin.EnableBridge(
                    admin_pb2.EnableBridgeRequest(collection=COLLECTION, from_version=source),
                    metadata=META,
                )
                progress(f"bridge {source} -> {V1}: {view.kind}, rank {view.rank}, enabled")
            client = gateway.client()
            paths = {"native minilm@1": (V1, "minilm"), "bridged minilm@2": (V2, "minilm_ft")}
            paths["bridged mpnet@1"] = (MPNET, "mpnet")
            requests = {}
            for label, (identity, key) in paths.items():
                built = []
                for n in range(searches):
                    request = ppb.QueryPoints(collection_name=COLLECTION, limit=10)
                    request.query.nearest.dense.data.extend(queries[key][n % 500].tolist())
                    built.append(request)
                requests[label] = (built, (("x-embedding-model", identity),))
            for built, metadata in requests.values():  # warm-up
                for request in built[:20]:
                    client.grpc_points.Query(request, metadata=metadata, timeout=10)
            out: dict[str, Any] = {label: [] for label in requests}
            order, shuffle = list(requests), random.Random(0).shuffle
            for n in range(searches):
                shuffle(order)  # no path always follows the same one
                for label in order:
                    built, metadata = requests[label]
                    started = time.perf_counter()
                    _, call = client.grpc_points.Query.with_call(
                        built[n], metadata=metadata, timeout=10
                    )
                    out[label].append((time.perf_counter() - started) * 1000)
                    if n == 0 and label.startswith("bridged"):
                        trailers = dict(call.trailing_metadata() or ())
                        assert "vecgate-bridged" in trailers, trailers
                if (n + 1) % max(1, searches // 4) == 0:
                    progress(f"bridge latency: {n + 1}/{searches} rounds")
            for source, key in SOURCES.items():
                out[f"map step {source}"] = _map_step_us(admin, source, queries[key], 5000)
            return out
    finally:
        gateway.stop()


def paired_added_us(bridged: list[float], native: list[float]) -> float:
    """The median over rounds of (bridged - native), in us: each round runs both paths
    back to back, so the host's load, which drifts over a run, cancels out of it."""
    return float(np.median(np.subtract(bridged, native))) * 1000


def bridge_table(
    results: dict[str, Any], summary: Callable[[list[float]], dict[str, float]]
) -> str:
    """Latency side by side against the 50 us target, and the map step alone.

    What a bridged query adds is shown two ways: the difference of the p50s, and the
    median of the differences within each round (steadier). The target is met only when
    both are within it."""
    lines = [
        "query bridge: top-10 on the minilm@1 index (6,000 x 384), the three paths "
        "interleaved, each round in a random order; client-side ms",
        f"{'path':<22}{'n':>6}{'p50':>9}{'p95':>9}{'mean':>9}{'p50 - native':>15}{'paired':>10}",
    ]
    native_samples = results["native minilm@1"]
    native = summary(native_samples)["p50"]
    added: dict[str, tuple[float, float]] = {}
    for label in ("native minilm@1", "bridged minilm@2", "bridged mpnet@1"):
        s = summary(results[label])
        added[label] = (s["p50"] - native) * 1000, paired_added_us(results[label], native_samples)
        lines.append(
            f"{label:<22}{s['n']:>6}{s['p50']:>9.3f}{s['p95']:>9.3f}{s['mean']:>9.3f}"
            f"{added[label][0]:>12.0f} us{added[label][1]:>7.0f} us"
        )
    lines += [
        "",
        f"{'map step alone (in-process)':<34}{'n':>6}{'p50 us':>9}{'p95 us':>9}{'mean us':>9}",
    ]
    verdicts = []
    for source, path in zip(SOURCES, ("bridged minilm@2", "bridged mpnet@1"), strict=True):
        s = summary(results[f"map step {source}"])
        label = f"{source} -> minilm@1"
        lines.append(f"{label:<34}{s['n']:>6}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['mean']:>9.1f}")
        by_p50, paired = added[path]
        verdict = "met" if max(by_p50, paired) <= 50 else "not met"
        verdicts.append(
            f"{source}: a bridged query adds {by_p50:.0f} us (p50) / {paired:.0f} us (paired) "
            f"over a native one; target <= 50 us: {verdict} (the map step alone: "
            f"{s['p50']:.0f} us)"
        )
    return "\n".join([*lines, "", *verdicts])
