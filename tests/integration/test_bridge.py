"""The cross-version query bridge end to end, on real embeddings and a real `vecgate serve`.

minilm@2 (the fine-tuned MiniLM) queries answered from the minilm@1 index through a
map trained on the points present under both; mpnet@1 (768-d) into minilm@1 (384-d)
with too few pairs, refused by the floor, and with all of them, answered by its
int8 map.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.grpc import points_pb2 as ppb

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.bridge.fit import int8_form
from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess
from tests.integration.test_migrate_cli import ok, reason, vecgate
from tests.upstream import UpstreamProcess

DATA = Path(__file__).parent.parent / "data"
V1, V2, MPNET = "minilm@1", "minilm@2", "mpnet@1"
ADMIN_KEY = "adm"  # the CLI helpers of test_migrate_cli send this one
META = (("api-key", ADMIN_KEY),)
CONFIG = f'[[keys]]\nname = "ops"\nsha256 = "{hash_key(ADMIN_KEY)}"\nrole = "admin"\n'
PAIRED = 800  # points of the slice written under minilm@2 too (a backfill under way)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway for the module, embedded engine, with the admin key."""
    proc = GatewayProcess(tmp_path_factory.mktemp("gw") / "data", CONFIG).start()
    yield proc
    proc.stop()


@pytest.fixture
def admin(gw: GatewayProcess) -> Iterator[Any]:
    """A raw stub of vecgate's admin API."""
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        yield admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]


def _fill(gw: GatewayProcess, name: str, identity: str, ids: Any, vectors: np.ndarray) -> None:
    client = gw.client(identity)
    client.create_collection(
        name, vectors_config=models.VectorParams(size=vectors.shape[1], distance="Cosine")
    )
    for start in range(0, len(ids), 256):
        client.upsert(
            name,
            [
                models.PointStruct(id=int(i), vector=v.tolist())
                for i, v in zip(ids[start : start + 256], vectors[start : start + 256], strict=True)
            ],
        )


def _golden(emb: dict[str, np.ndarray], from_key: str) -> list[Any]:
    """The slice's 100 queries under both versions, labelled with their source passage."""
    return [
        admin_pb2.BridgeQuery(
            from_vector=emb[from_key][i].tolist(),
            to_vector=emb["query_minilm"][i].tolist(),
            relevant_ids=[str(int(emb["query_source_doc"][i]))],
        )
        for i in range(len(emb["query_minilm"]))
    ]


def _train(admin: Any, collection: str, source: str, golden: list[Any]) -> Any:
    """`TrainBridge` from `source` into minilm@1, judged on the golden queries too."""
    request = admin_pb2.TrainBridgeRequest(
        collection=collection, from_version=source, to_version=V1, queries=golden
    )
    return admin.TrainBridge(request, metadata=META, timeout=120)


def _refusal(call: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _metric(gw: GatewayProcess, line_start: str) -> float:
    url = f"http://127.0.0.1:{gw.http_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_bridged_query_is_the_map_applied_by_hand(
    gw: GatewayProcess, admin: Any, embeddings: dict[str, np.ndarray]
) -> None:
    """Trained on the pairs, enabled, a minilm@2 query with no minilm@2 index is answered
    from minilm@1 exactly as the exported map applied in numpy; disabled, it is refused."""
    ids = embeddings["corpus_ids"]
    _fill(gw, "docs", V1, ids, embeddings["corpus_minilm"])
    _fill(gw, "docs", V2, ids[:PAIRED], embeddings["corpus_minilm_ft"][:PAIRED])
    view = _train(admin, "docs", V2, _golden(embeddings, "query_minilm_ft"))
    assert (view.pairs, view.held_out, view.version, view.enabled) == (PAIRED, 160, 1, False)
    pairs, queries = view.sets
    assert (pairs.name, queries.name, queries.labelled) == ("pairs", "queries", 100)
    chosen = queries.maps[view.kind]
    print(f"\nqueries: no map {queries.no_map.overlap:.3f}, {view.kind} {chosen.overlap:.3f}")
    assert chosen.overlap > queries.no_map.overlap
    assert view.passed, view.floor_reasons

    # The minilm@2 index goes: only the bridge can answer minilm@2 queries now.
    gw.client(V2).delete_collection("docs")
    query = embeddings["query_minilm_ft"][0]
    v2 = gw.client(V2)
    before = _refusal(lambda: v2.query_points("docs", query=query.tolist(), limit=10))
    assert before.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "has no index built by minilm@2" in (before.details() or "")

    admin.EnableBridge(
        admin_pb2.EnableBridgeRequest(collection="docs", from_version=V2, to_version=V1),
        metadata=META,
        timeout=30,
    )
    exported = admin.ExportBridge(
        admin_pb2.ExportBridgeRequest(collection="docs", from_version=V2), metadata=META, timeout=30
    )
    # ridge_identity on these pairs is stored low-rank (I + U V) and applied in that form;
    # the exported dense weights answer the same.
    assert view.kind == "ridge_identity"
    assert exported.rank == view.rank > 0
    weights = np.frombuffer(exported.weights, "<f4").reshape(384, 384)
    bias = np.frombuffer(exported.bias, "<f4")
    by_hand = (query.astype(np.float32) @ weights + bias).astype(np.float32)
    expected = gw.client(V1).query_points("docs", query=by_hand.tolist(), limit=10).points
    bridged = v2.query_points("docs", query=query.tolist(), limit=10).points
    assert [p.id for p in bridged] == [p.id for p in expected]
    assert [p.score for p in bridged] == pytest.approx([p.score for p in expected], abs=1e-6)
    assert all(p.payload["embedding_version"] == "1" for p in bridged)

    # The trailer says so; a batch of two is mapped too.
    request = ppb.QueryPoints(collection_name="docs", limit=10)
    request.query.nearest.dense.data.extend(query.tolist())
    reply, call = v2.grpc_points.Query.with_call(
        request, metadata=(("x-embedding-model", V2),), timeout=10
    )
    assert [p.id.num for p in reply.result] == [p.id for p in expected]
    trailers = dict(call.trailing_metadata() or ())
    assert trailers["vecgate-bridged"] == f"{V2}->{V1} v1 ({view.kind})"
    second = embeddings["query_minilm_ft"][1]
    batch = v2.query_batch_points(
        "docs",
        [models.QueryRequest(query=q.tolist(), limit=5) for q in (query, second)],
    )
    assert [p.id for p in batch[0].points] == [p.id for p in expected[:5]]

    # Inspection and metrics record it.
    records = list(
        admin.InspectRequests(
            admin_pb2.InspectRequest(collection="docs", model=V1), metadata=META, timeout=10
        )
    )
    bridged_records = [r for r in records if r.decision == "bridged"]
    assert len(bridged_records) == 3
    assert bridged_records[-1].bridge == f"{V2}->{V1} v1 ({view.kind})"
    assert _metric(gw, 'vecgate_bridged_queries_total{collection="docs"') == 3

    # Disabled: refused as before, at once.
    admin.DisableBridge(
        admin_pb2.DisableBridgeRequest(collection="docs", from_version=V2),
        metadata=META,
        timeout=30,
    )
    after = _refusal(lambda: v2.query_points("docs", query=query.tolist(), limit=10))
    assert after.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert after.details() == before.details()


def test_enable_is_refused_below_the_floor_with_the_figures(
    gw: GatewayProcess, admin: Any, embeddings: dict[str, np.ndarray]
) -> None:
    """mpnet (768-d) into MiniLM (384-d) fitted on 30 pairs: below the floor, refused."""
    with np.load(DATA / "bridge.npz") as data:
        mpnet_ids, mpnet = data["corpus_ids"], data["corpus_mpnet"]
    ids = embeddings["corpus_ids"]
    _fill(gw, "wide", V1, ids, embeddings["corpus_minilm"])
    _fill(gw, "wide", MPNET, mpnet_ids, mpnet)
    golden = Path(gw.data_dir.parent / "golden.jsonl")
    golden.write_text(
        "\n".join(json.dumps(admin_pb2_to_dict(q)) for q in _golden(embeddings, "query_mpnet"))
    )
    trained = vecgate(
        gw, "bridge", "train", "wide", "--from", MPNET, "--to", V1,
        "--fit-share", "0.05", "--queries", str(golden), "--json",
    )  # fmt: skip
    view = json.loads(ok(trained))
    assert (view["dimension_in"], view["dimension_out"], view["fit_pairs"]) == (768, 384, 30)
    assert view["passed"] is False
    queries = view["sets"][1]
    assert queries["comparable"] is False  # 768-d queries cannot even reach a 384-d index
    line = reason(vecgate(gw, "bridge", "enable", "wide", "--from", MPNET), 1)
    assert "below the floor" in line
    assert "recall@k" in line
    assert f"{V1}'s own recall" in line
    shown = json.loads(ok(vecgate(gw, "bridge", "show", "wide", "--json")))
    assert [b["state"] for b in shown["bridges"]] == ["disabled"]


def test_a_dense_768_to_384_bridge_answers_as_its_exported_int8_map(
    gw: GatewayProcess, admin: Any, embeddings: dict[str, np.ndarray]
) -> None:
    """mpnet (768-d) into MiniLM (384-d) on all 600 pairs of the slice: the map stays
    dense, its weights are int8 steps of a scale per column (what the C kernel reads per
    query), and a bridged query through the real client is the exported map applied in
    numpy."""
    with np.load(DATA / "bridge.npz") as data:
        mpnet_ids, mpnet = data["corpus_ids"], data["corpus_mpnet"]
    _fill(gw, "dense", V1, embeddings["corpus_ids"], embeddings["corpus_minilm"])
    _fill(gw, "dense", MPNET, mpnet_ids, mpnet)
    view = _train(admin, "dense", MPNET, _golden(embeddings, "query_mpnet"))
    assert (view.dimension_in, view.dimension_out, view.rank) == (768, 384, 0)
    assert view.passed, view.floor_reasons
    gw.client(MPNET).delete_collection("dense")
    admin.EnableBridge(
        admin_pb2.EnableBridgeRequest(collection="dense", from_version=MPNET),
        metadata=META,
        timeout=30,
    )
    exported = admin.ExportBridge(
        admin_pb2.ExportBridgeRequest(collection="dense", from_version=MPNET),
        metadata=META,
        timeout=30,
    )
    weights = np.frombuffer(exported.weights, "<f4").reshape(768, 384)
    assert int8_form(weights) is not None  # every column: int8 steps of one scale
    bias = np.frombuffer(exported.bias, "<f4")
    mpnet_client, v1 = gw.client(MPNET), gw.client(V1)
    for query in embeddings["query_mpnet"][:5]:
        by_hand = (query.astype(np.float32) @ weights + bias).astype(np.float32)
        expected = v1.query_points("dense", query=by_hand.tolist(), limit=10).points
        bridged = mpnet_client.query_points("dense", query=query.tolist(), limit=10).points
        assert [p.id for p in bridged] == [p.id for p in expected]
        assert [p.score for p in bridged] == pytest.approx([p.score for p in expected], abs=1e-6)


def admin_pb2_to_dict(query: Any) -> dict[str, Any]:
    """A BridgeQuery as a line of the --queries file."""
    return {
        "from_vector": list(query.from_vector),
        "to_vector": list(query.to_vector),
        "relevant_ids": list(query.relevant_ids),
    }


def test_retiring_a_partition_drops_its_bridges(
    gw: GatewayProcess, admin: Any, embeddings: dict[str, np.ndarray]
) -> None:
    """A migration minilm@1 -> minilm@2 with a bridge back into minilm@1: retire drops it."""
    ids = embeddings["corpus_ids"][:300]
    _fill(gw, "mig", V1, ids, embeddings["corpus_minilm"][:300])
    admin.StartMigration(
        admin_pb2.StartMigrationRequest(collection="mig", to=V2, dimension=384, distance="Cosine"),
        metadata=META,
        timeout=30,
    )
    gw.client(V2).upsert(
        "mig",
        [
            models.PointStruct(id=int(i), vector=v.tolist())
            for i, v in zip(ids, embeddings["corpus_minilm_ft"][:300], strict=True)
        ],
    )
    admin.TrainBridge(
        admin_pb2.TrainBridgeRequest(collection="mig", from_version=V2, to_version=V1),
        metadata=META,
        timeout=120,
    )
    listed = admin.ListBridges(admin_pb2.ListBridgesRequest(collection="mig"), metadata=META)
    assert [b.state for b in listed.bridges] == ["disabled"]
    admin.Cutover(admin_pb2.CutoverRequest(collection="mig"), metadata=META, timeout=30)
    admin.Retire(admin_pb2.RetireRequest(collection="mig"), metadata=META, timeout=30)
    listed = admin.ListBridges(admin_pb2.ListBridgesRequest(collection="mig"), metadata=META)
    assert list(listed.bridges) == []


def _eventually(check: Any, seconds: float = 2.0) -> Any:
    """`check()`'s first truthy value within `seconds` (the replicas' 2 s promise)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_a_bridge_enabled_through_one_replica_is_honoured_by_the_other(
    tmp_path: Path, embeddings: dict[str, np.ndarray]
) -> None:
    """Two gateways on one Qdrant-protocol upstream: a bridge trained and enabled through
    A answers through B with the same neighbours as A; disabled through A, B refuses."""
    upstream = UpstreamProcess(tmp_path / "upstream").start()
    a = GatewayProcess(tmp_path / "a", CONFIG, "--backend", upstream.url).start()
    b = GatewayProcess(tmp_path / "b", CONFIG, "--backend", upstream.url).start()
    try:
        ids = embeddings["corpus_ids"][:400]
        _fill(a, "shared", V1, ids, embeddings["corpus_minilm"][:400])
        _fill(a, "shared", V2, ids, embeddings["corpus_minilm_ft"][:400])
        query = embeddings["query_minilm_ft"][2].tolist()
        on_b = b.client(V2)
        native = on_b.query_points("shared", query=query, limit=10).points
        assert all(p.payload["embedding_version"] == "2" for p in native)  # no bridge yet
        with grpc.insecure_channel(f"127.0.0.1:{a.grpc_port}") as channel:
            admin_a = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
            view = admin_a.TrainBridge(
                admin_pb2.TrainBridgeRequest(collection="shared", from_version=V2, to_version=V1),
                metadata=META,
                timeout=120,
            )
            assert view.passed, view.floor_reasons
            admin_a.EnableBridge(
                admin_pb2.EnableBridgeRequest(collection="shared", from_version=V2),
                metadata=META,
                timeout=30,
            )
            through_a = a.client(V2).query_points("shared", query=query, limit=10).points
            assert all(p.payload["embedding_version"] == "1" for p in through_a)

            def bridged_on_b() -> list[Any]:
                points = on_b.query_points("shared", query=query, limit=10).points
                return points if points[0].payload["embedding_version"] == "1" else []

            through_b = _eventually(bridged_on_b)
            assert [p.id for p in through_b] == [p.id for p in through_a]
            assert [p.score for p in through_b] == pytest.approx([p.score for p in through_a])

            admin_a.DisableBridge(
                admin_pb2.DisableBridgeRequest(collection="shared", from_version=V2),
                metadata=META,
                timeout=30,
            )

            def native_on_b() -> bool:
                points = on_b.query_points("shared", query=query, limit=10).points
                return points[0].payload["embedding_version"] == "2"

            assert _eventually(native_on_b)
    finally:
        b.stop()
        a.stop()
        upstream.stop()
