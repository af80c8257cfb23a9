"""vecgate in front of milvus-lite, against pymilvus calling the same milvus-lite directly.

Searches also go through a bare grpc.aio relay (`bench/forwarder.py`: pymilvus -> relay ->
the same milvus-lite, bytes forwarded untouched), the floor of any Python gRPC proxy;
the three paths take turns, query by query.

One milvus-lite server (`python -m milvus_lite server`, its own process) answers both
paths. The direct path is what a Milvus application does: pymilvus `MilvusClient`
with the same collection layout vecgate uses (VARCHAR key, JSON payload, FLAT index,
cosine, Strong consistency), so the difference is vecgate's hop and translation.
Both collections are flushed before the searches (milvus-lite searches unflushed
rows in Python); vecgate's own background flush is off for the run so that neither
path pays for a flush inside an upsert. milvus-lite runs as vecgate runs it
(`LiteServer`: one BLAS thread unless the environment sets one), for both paths.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import collections_service_pb2_grpc, points_service_pb2_grpc

from adapters.milvus.lite import LiteServer
from bench.remote import Child, _timed
from bench.requests import query_request, upsert_request
from tests.gatewayproc import GatewayProcess

IDENTITY = "embed3@1"
BATCH = 256
META = (("x-embedding-model", IDENTITY),)
DIRECT = "direct"
#: Issue 6: vecgate on milvus-lite within 1.3x of pymilvus direct, for search and upsert.
TARGET = 1.3


def _direct_collection(client: MilvusClient, dim: int) -> None:
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("payload", DataType.JSON)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    index = MilvusClient.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="COSINE")
    client.create_collection(DIRECT, schema=schema, index_params=index, consistency_level="Strong")


def _direct_rows(vectors: np.ndarray, rows: range) -> list[dict[str, Any]]:
    return [{"pk": f"0{n:020d}", "payload": {"n": n}, "vector": vectors[n].tolist()} for n in rows]


def _searches(
    direct: MilvusClient, points: Any, relayed: MilvusClient, vector: np.ndarray
) -> dict[str, Callable[[], Any]]:
    """One top-10 search with payloads on each path, ready to time."""
    query, request = vector.tolist(), query_request("vecgate", vector)

    def pymilvus(client: MilvusClient) -> Callable[[], Any]:
        return lambda: client.search(
            DIRECT, data=[query], limit=10, output_fields=["payload"], consistency_level="Strong"
        )

    return {
        "direct": pymilvus(direct),
        "vecgate": lambda: points.Query(request, metadata=META, timeout=60),
        "relay": pymilvus(relayed),
    }


def bench_milvus(
    vectors: np.ndarray, queries: np.ndarray, work: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Direct pymilvus vs through vecgate (same milvus-lite), upserts then searches."""
    lite = LiteServer(work / "milvus-lite").start()
    gateway = GatewayProcess(
        work / "milvus-gw",
        "[backend]\nmilvus_lite_flush_rows = 0\n",
        "--backend",
        f"milvus://127.0.0.1:{lite.port}",
        log_file=work / "milvus-gw.log",
    ).start()
    relay = Child("forwarder", f"127.0.0.1:{lite.port}")
    direct = MilvusClient(uri=lite.uri)
    relayed = MilvusClient(uri=f"http://127.0.0.1:{relay.port}")
    channel = grpc.insecure_channel(
        f"127.0.0.1:{gateway.grpc_port}", options=[("grpc.max_send_message_length", 64 << 20)]
    )
    try:
        points = points_service_pb2_grpc.PointsStub(channel)  # type: ignore[no-untyped-call]
        collections = collections_service_pb2_grpc.CollectionsStub(channel)  # type: ignore[no-untyped-call]
        params = cpb.VectorsConfig(
            params=cpb.VectorParams(size=vectors.shape[1], distance=cpb.Distance.Cosine)
        )
        collections.Create(
            cpb.CreateCollection(collection_name="vecgate", vectors_config=params),
            metadata=META,
            timeout=60,
        )
        _direct_collection(direct, vectors.shape[1])
        chunks = [range(i, min(i + BATCH, len(vectors))) for i in range(0, len(vectors), BATCH)]
        out: dict[str, Any] = {"upsert_direct": [], "upsert_vecgate": []}
        for i, rows in enumerate(chunks):  # sequential upserts, the two paths in turn
            data = _direct_rows(vectors, rows)
            out["upsert_direct"].append(_timed(lambda: direct.upsert(DIRECT, data)))  # noqa: B023
            request = upsert_request("vecgate", vectors, rows)
            out["upsert_vecgate"].append(
                _timed(lambda: points.Upsert(request, metadata=META, timeout=120))  # noqa: B023
            )
            if (i + 1) % max(1, len(chunks) // 4) == 0:
                progress(f"milvus upsert: {i + 1}/{len(chunks)}")
        for name in direct.list_collections():  # both paths search flushed segments
            direct.flush(name)
        out["search_direct"], out["search_vecgate"], out["search_relay"] = [], [], []
        # direct, vecgate and relay in a fresh random order for each query: a call's
        # latency depends on the call before it
        shuffle = random.Random(0).shuffle
        for i, vector in enumerate(queries):
            calls = list(_searches(direct, points, relayed, vector).items())
            shuffle(calls)
            for path, call in calls:
                out[f"search_{path}"].append(_timed(call))
            if (i + 1) % max(1, len(queries) // 4) == 0:
                progress(f"milvus search (direct, vecgate, relay): {i + 1}/{len(queries)}")
        out["dimension"] = int(vectors.shape[1])
        return out
    finally:
        channel.close()
        direct.close()
        relayed.close()
        relay.stop()
        gateway.stop()
        lite.stop()


def milvus_rows(results: dict[str, Any]) -> list[tuple[str, str, list[float]]]:
    """The latency rows of the Milvus table."""
    return [
        ("top-10 search", "pymilvus -> milvus-lite", results["search_direct"]),
        ("top-10 search", "qdrant gRPC -> vecgate -> milvus", results["search_vecgate"]),
        ("top-10 search", "pymilvus -> bare aio relay -> milvus", results["search_relay"]),
        ("256-point upsert", "pymilvus -> milvus-lite", results["upsert_direct"]),
        ("256-point upsert", "qdrant gRPC -> vecgate -> milvus", results["upsert_vecgate"]),
    ]


def milvus_verdict(results: dict[str, Any], p50: Callable[[list[float]], float]) -> list[str]:
    """The ratios issue 6 sets targets for (<= x1.3 of direct)."""
    lines = []
    for op in ("search", "upsert"):
        via, direct = p50(results[f"{op}_vecgate"]), p50(results[f"{op}_direct"])
        ratio = via / direct
        verdict = "met" if ratio <= TARGET else "NOT met"
        lines.append(
            f"milvus {op}: vecgate {via:.3f} ms, pymilvus direct {direct:.3f} ms (p50) = "
            f"x{ratio:.3f}, {via - direct:+.3f} ms; target <= x{TARGET:.2f}: {verdict}"
        )
    relay, direct = p50(results["search_relay"]), p50(results["search_direct"])
    lines.append(
        f"floor: a bare grpc.aio relay adds {relay - direct:+.3f} ms to a search "
        f"(x{relay / direct:.3f}); vecgate adds "
        f"{p50(results['search_vecgate']) - direct:+.3f} ms"
    )
    return lines
