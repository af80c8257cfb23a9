"""Where a search's extra time goes, without gRPC: the gateway's request path in-process.

    python -m bench.inprocess [--points 1000 10000] [--searches 500]

For each collection size, one gateway (the embedded engine, default configuration
but no request log) is built in this process, exactly as `vecgate serve` builds it,
and the same top-10 searches are timed two ways, interleaved: the whole request path
(`Gateway.serve`: telemetry, admission, the filter chain, the adapter's conversions,
the engine) and the bare engine call on the same shard. The difference is vecgate's
own cost per search with no network and no gRPC. Comparing sizes shows how much of
it is the code itself and how much is the code running with cold CPU caches after an
exact scan (10,000 x 384 floats is 15 MB, more than this machine's L2 cache).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import qdrant_edge as qe
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb

from bench.__main__ import ROOT, load, progress
from bench.requests import query_request, upsert_request
from proxy.config import load_config
from proxy.envelope import Envelope
from proxy.frontend.ops import OPS
from proxy.gateway import Gateway
from proxy.server import build_gateway

IDENTITY = "minilm@1"
METADATA = {"x-embedding-model": IDENTITY}


class Context:
    """The parts of a grpc.aio servicer context that `Gateway.serve` uses."""

    def time_remaining(self) -> float | None:
        """No deadline."""
        return None

    def set_trailing_metadata(self, metadata: Any) -> None:
        """Trailers are dropped."""

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        """A refusal ends the benchmark."""
        raise RuntimeError(f"{code.name}: {details}")


async def call(gateway: Gateway, method: str, request: Any) -> Any:
    """One request through the gateway, as its gRPC handler would pass it."""
    env = Envelope(OPS[method], request, dict(METADATA))
    env.collection = getattr(request, "collection_name", None)
    return await gateway.serve(env, Context())  # type: ignore[arg-type]


async def measure(points: int, searches: int, data: Path, work: Path) -> dict[str, float]:
    """p50 of the whole request path and of the bare engine call, in microseconds."""
    vectors, queries = load(data, points, searches)
    config = load_config(overrides={"server": {"data_dir": str(work), "log_requests": False}})
    gateway = await build_gateway(config)
    params = cpb.VectorParams(size=vectors.shape[1], distance=cpb.Cosine)
    create = cpb.CreateCollection(
        collection_name="bench", vectors_config=cpb.VectorsConfig(params=params)
    )
    await call(gateway, "/qdrant.Collections/Create", create)
    for start in range(0, points, 256):
        upsert = upsert_request("bench", vectors, range(start, min(start + 256, points)))
        await call(gateway, "/qdrant.Points/Upsert", upsert)
    partition = gateway.registry.resolve("bench").partitions[0]
    shard = gateway.backend.catalog.get(partition.physical).shard  # type: ignore[attr-defined]
    requests = [query_request("bench", query) for query in queries]
    whole: list[float] = []
    engine: list[float] = []
    for i, query in enumerate(queries):
        request = ppb.QueryPoints()
        request.CopyFrom(requests[i])
        begin = time.perf_counter()
        await call(gateway, "/qdrant.Points/Query", request)
        whole.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        shard.query(
            qe.QueryRequest(limit=10, query=qe.Query.Nearest(query.tolist()), with_payload=True)
        )
        engine.append(time.perf_counter() - begin)
        if (i + 1) % 100 == 0:
            progress(f"in-process searches at {points} points: {i + 1}/{len(queries)}")
    await gateway.backend.close()
    return {
        "whole": statistics.median(whole) * 1e6,
        "engine": statistics.median(engine) * 1e6,
    }


def main() -> int:
    """Print one row per collection size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "embeddings")
    args = parser.parse_args()
    rows = []
    for points in args.points:
        with tempfile.TemporaryDirectory() as work:
            figures = asyncio.run(measure(points, args.searches, args.data, Path(work)))
        rows.append((points, figures))
    print(f"top-10 search, {args.searches} queries, real MiniLM 384-d vectors; p50 in µs")
    print(f"{'points':>8} {'request path':>13} {'engine alone':>13} {'vecgate adds':>13}")
    for points, f in rows:
        added = f["whole"] - f["engine"]
        print(f"{points:>8} {f['whole']:>13.1f} {f['engine']:>13.1f} {added:>13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
