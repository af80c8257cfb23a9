"""The Milvus backend: read-your-writes, routing state kept in Milvus, replicas, milvus-lite.

Each test drives vecgate with an unmodified qdrant-client and looks at Milvus directly
with pymilvus where the claim is about what Milvus holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from pymilvus import MilvusClient
from qdrant_client import models

from adapters.milvus.lite import LiteServer
from tests.gatewayproc import GatewayProcess

IDENTITY = "emb@1"


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteServer]:
    """One milvus-lite server for the module."""
    server = LiteServer(tmp_path_factory.mktemp("milvus")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(lite: LiteServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """vecgate on that milvus-lite."""
    proc = GatewayProcess(
        tmp_path_factory.mktemp("gw") / "data", None, "--backend", f"milvus://127.0.0.1:{lite.port}"
    ).start()
    yield proc
    proc.stop()


def _create(client, name: str, dim: int = 384) -> None:
    client.create_collection(
        name, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
    )


def test_read_your_writes_search_right_after_each_upsert(gateway, name, embeddings):
    """Every acknowledged upsert is found by the very next search, count and retrieve."""
    app = gateway.client(IDENTITY)
    _create(app, name)
    corpus = embeddings["corpus_minilm"]
    for i in range(40):
        app.upsert(name, [models.PointStruct(id=i, vector=corpus[i].tolist(), payload={"i": i})])
        hits = app.query_points(name, query=corpus[i].tolist(), limit=1).points
        assert [h.id for h in hits] == [i], i
        assert app.count(name).count == i + 1
    app.set_payload(name, {"seen": True}, points=[39])
    assert app.retrieve(name, [39], with_payload=True)[0].payload["seen"] is True
    app.delete(name, points_selector=[39])
    assert app.query_points(name, query=corpus[39].tolist(), limit=1).points[0].id != 39


def test_routing_state_lives_in_milvus(gateway, lite, name, embeddings):
    """Partitions are Milvus collections whose `vecgate` property holds the routing JSON, and
    the logical name is a Milvus alias of the active one."""
    app1, app2 = gateway.client("emb@1"), gateway.client("emb@2")
    _create(app1, name)
    _create(app2, name, dim=8)
    milvus = MilvusClient(uri=lite.uri)
    try:
        partitions = {}
        for physical in milvus.list_collections():
            properties = milvus.describe_collection(physical)["properties"]
            if "vecgate" in properties and json.loads(properties["vecgate"])["logical"] == name:
                partitions[json.loads(properties["vecgate"])["binding"][""]] = physical
        assert set(partitions) == {"emb@1", "emb@2"}
        assert all(p.startswith("vg__") for p in partitions.values())
        assert milvus.describe_alias(name)["collection_name"] == partitions["emb@1"]
        dims = {
            version: next(
                f["params"]["dim"]
                for f in milvus.describe_collection(physical)["fields"]
                if f["name"] == "vector"
            )
            for version, physical in partitions.items()
        }
        assert dims == {"emb@1": 384, "emb@2": 8}  # dimensions differ between versions
    finally:
        milvus.close()


def test_a_second_replica_on_the_same_milvus_agrees(gateway, lite, name, embeddings, tmp_path):
    """A second vecgate on the same Milvus routes a collection the first created, at once."""
    app = gateway.client(IDENTITY)
    _create(app, name)
    corpus = embeddings["corpus_minilm"]
    app.upsert(name, [models.PointStruct(id=i, vector=corpus[i].tolist()) for i in range(10)])
    other = GatewayProcess(
        tmp_path / "gw2", None, "--backend", f"milvus://127.0.0.1:{lite.port}"
    ).start()
    try:
        replica = other.client(IDENTITY)
        assert replica.collection_exists(name)
        assert replica.query_points(name, query=corpus[4].tolist(), limit=1).points[0].id == 4
        refused = other.client("emb@9")
        with pytest.raises(Exception, match="emb@1"):
            refused.query_points(name, query=corpus[4].tolist(), limit=1)
    finally:
        other.stop()


def test_milvus_lite_backend_is_started_by_vecgate_and_keeps_data(tmp_path, embeddings):
    """`--backend milvus-lite:PATH`: vecgate runs milvus-lite itself; data survive a restart."""
    corpus = embeddings["corpus_minilm"]
    args = ("--backend", f"milvus-lite:{tmp_path / 'milvus'}")
    proc = GatewayProcess(tmp_path / "gw", None, *args).start()
    try:
        app = proc.client(IDENTITY)
        _create(app, "kept")
        app.upsert("kept", [models.PointStruct(id=i, vector=corpus[i].tolist()) for i in range(5)])
    finally:
        proc.stop()
    proc = GatewayProcess(tmp_path / "gw", None, *args).start()
    try:
        app = proc.client(IDENTITY)
        assert app.count("kept").count == 5
        assert app.query_points("kept", query=corpus[2].tolist(), limit=1).points[0].id == 2
    finally:
        proc.stop()
    assert (tmp_path / "milvus").is_dir()


def test_uuid_ids_and_euclid_scores(gateway, name):
    """UUID and integer ids live side by side (ints first when scrolling, as in Qdrant);
    Euclid scores are distances, not Milvus's squared ones."""
    app = gateway.client(IDENTITY)
    app.create_collection(
        name, vectors_config=models.VectorParams(size=2, distance=models.Distance.EUCLID)
    )
    uid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
    app.upsert(
        name,
        [
            models.PointStruct(id=uid, vector=[3.0, 4.0]),
            models.PointStruct(id=7, vector=[1.0, 0.0]),
        ],
    )
    records, _ = app.scroll(name, limit=10)
    assert [r.id for r in records] == [7, uid]
    hits = app.query_points(name, query=[0.0, 0.0], limit=2).points
    assert [(h.id, round(h.score, 5)) for h in hits] == [(7, 1.0), (uid, 5.0)]


def test_named_vectors_upsert_column_by_column(gateway, lite, name):
    """Upserts are written to Milvus column by column: each point keeps its own key,
    payload and vectors (Cosine normalised, Euclid as sent); a batch with a point lacking
    a vector or of the wrong size is refused whole, with the sentence naming it."""
    app = gateway.client(IDENTITY)
    app.create_collection(
        name,
        vectors_config={
            "text": models.VectorParams(size=4, distance=models.Distance.COSINE),
            "img": models.VectorParams(size=3, distance=models.Distance.EUCLID),
        },
    )
    sent = {
        n: {"text": [float(n), 1.0, 0.0, 2.0], "img": [float(n), -1.0, 0.5]} for n in range(1, 6)
    }
    payloads = {n: {"n": n, "tag": f"é{n}", "nested": {"x": [n, 0.5]}} for n in sent}
    app.upsert(name, [models.PointStruct(id=n, vector=sent[n], payload=payloads[n]) for n in sent])
    for record in app.retrieve(name, ids=list(sent), with_vectors=True):
        n = int(record.id)
        assert record.payload == {**payloads[n], "embedding_model": "emb", "embedding_version": "1"}
        text = np.asarray(sent[n]["text"])
        assert np.allclose(record.vector["text"], text / np.linalg.norm(text), atol=1e-6)
        assert np.allclose(record.vector["img"], sent[n]["img"], atol=1e-6)
    hits = app.query_points(name, query=[3.0, -1.0, 0.5], using="img", limit=2).points
    assert [(h.id, round(h.score, 4)) for h in hits] == [(3, 0.0), (2, 1.0)]
    refusals = {
        "lacks vector(s) img": models.PointStruct(id=9, vector={"text": [1.0, 0, 0, 0]}),
        "vector img has 2 dimensions": models.PointStruct(
            id=9, vector={"text": [1.0, 0, 0, 0], "img": [1.0, 2.0]}
        ),
    }
    for sentence, bad in refusals.items():
        good = models.PointStruct(id=8, vector=sent[1], payload={})
        with pytest.raises(grpc.RpcError) as caught:
            app.upsert(name, [good, bad])
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert sentence in caught.value.details()
    assert app.count(name).count == len(sent)
