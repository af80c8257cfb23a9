"""Version isolation through an unmodified qdrant-client against a real `vecgate serve`."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.http.exceptions import UnexpectedResponse

from tests.gatewayproc import GatewayProcess

V1, V2 = "emb@1", "emb@2"


@pytest.fixture(scope="module")
def gateway(gateway_each_backend: GatewayProcess) -> GatewayProcess:
    """This suite runs through vecgate on every backend (conftest.BACKENDS)."""
    return gateway_each_backend


def _status(excinfo: pytest.ExceptionInfo[BaseException]) -> grpc.StatusCode:
    error = excinfo.value
    assert isinstance(error, grpc.RpcError), f"expected a gRPC error, got {error!r}"
    return error.code()  # type: ignore[no-any-return]


def _details(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return excinfo.value.details()  # type: ignore[attr-defined,no-any-return]


def _create(client, name: str, dim: int = 384) -> None:
    client.create_collection(
        name, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
    )


def _points(vectors: np.ndarray, ids: range, **payload) -> list[models.PointStruct]:
    return [
        models.PointStruct(id=i, vector=vectors[n].tolist(), payload={"n": n, **payload})
        for n, i in enumerate(ids)
    ]


def test_two_versions_same_dimension_see_only_their_own_points(gateway, name, embeddings):
    """Apps on emb@1 and emb@2 share one logical collection yet never see each other's points."""
    app1, app2 = gateway.client(V1), gateway.client(V2)
    _create(app1, name)
    _create(app2, name)
    app1.upsert(name, _points(embeddings["corpus_minilm"], range(50)))
    app2.upsert(name, _points(embeddings["corpus_minilm_ft"], range(1000, 1030)))

    assert app1.count(name).count == 50
    assert app2.count(name).count == 30
    hits1 = app1.query_points(name, query=embeddings["query_minilm"][0].tolist(), limit=100).points
    hits2 = app2.query_points(
        name, query=embeddings["query_minilm_ft"][0].tolist(), limit=100
    ).points
    assert {h.id for h in hits1} == set(range(50))
    assert {h.id for h in hits2} == set(range(1000, 1030))
    # The logical collection is listed once, under its own name only.
    names = [c.name for c in app1.get_collections().collections]
    assert names.count(name) == 1
    assert not [n for n in names if n.startswith("vg__")]


def test_cross_version_search_is_refused_naming_the_versions_held(gateway, name, embeddings):
    """A search as emb@2 on a collection holding only emb@1: FAILED_PRECONDITION naming emb@1."""
    app1, app2 = gateway.client(V1), gateway.client(V2)
    _create(app1, name)
    app1.upsert(name, _points(embeddings["corpus_minilm"], range(10)))
    with pytest.raises(grpc.RpcError) as excinfo:
        app2.query_points(name, query=embeddings["query_minilm_ft"][0].tolist(), limit=5)
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION
    assert "emb@1" in _details(excinfo)
    assert "emb@2" in _details(excinfo)
    with pytest.raises(grpc.RpcError) as excinfo:
        app2.upsert(name, _points(embeddings["corpus_minilm_ft"], range(3)))
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION
    assert app1.count(name).count == 10


def test_search_without_identity_is_refused_with_how_to(gateway, name, embeddings):
    """A request carrying vectors and no identity is refused with a message saying how to fix it."""
    _create(gateway.client(V1), name)
    anonymous = gateway.client()
    with pytest.raises(grpc.RpcError) as excinfo:
        anonymous.query_points(name, query=embeddings["query_minilm"][0].tolist(), limit=3)
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION
    assert "x-embedding-model" in _details(excinfo)
    with pytest.raises(grpc.RpcError) as excinfo:
        anonymous.create_collection(
            name + "_x", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)
        )
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION


def test_reads_without_identity_go_to_the_active_version(gateway, name, embeddings):
    """Get, scroll and count without identity read the first (active) version only."""
    app1, app2, anonymous = gateway.client(V1), gateway.client(V2), gateway.client()
    _create(app1, name)
    _create(app2, name)
    app1.upsert(name, _points(embeddings["corpus_minilm"], range(5)))
    app2.upsert(name, _points(embeddings["corpus_minilm_ft"], range(100, 107)))
    assert anonymous.count(name).count == 5
    records, _ = anonymous.scroll(name, limit=100)
    assert sorted(r.id for r in records) == list(range(5))
    assert [r.id for r in anonymous.retrieve(name, [1, 101])] == [1]


def test_mutable_version_refused_per_request(gateway, name, embeddings):
    """emb@latest (and an empty version) is refused with INVALID_ARGUMENT on every request."""
    _create(gateway.client(V1), name)
    for identity in ("emb@latest", "emb@", "emb@Stable"):
        with pytest.raises(grpc.RpcError) as excinfo:
            gateway.client(identity).count(name)
        assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
        assert "emb" in _details(excinfo)
        assert "pin" in _details(excinfo)


def test_every_stored_point_carries_the_tags(gateway, name, embeddings):
    """Upsert, batch upsert and vector updates leave the model and version tags on each point."""
    app = gateway.client(V2)
    _create(app, name)
    app.upsert(name, _points(embeddings["corpus_minilm_ft"], range(20)))
    app.batch_update_points(
        name,
        [
            models.UpsertOperation(
                upsert=models.PointsList(
                    points=_points(embeddings["corpus_minilm_ft"], range(20, 25))
                )
            )
        ],
    )
    app.update_vectors(
        name, [models.PointVectors(id=3, vector=embeddings["corpus_minilm_ft"][40].tolist())]
    )
    records, _ = app.scroll(name, limit=100, with_payload=True)
    assert len(records) == 25
    for record in records:
        assert record.payload["embedding_model"] == "emb"
        assert record.payload["embedding_version"] == "2"


def test_forged_tag_is_refused_and_nothing_is_written(gateway, name, embeddings):
    """A point claiming another version in its payload is refused and the batch writes nothing."""
    app = gateway.client(V1)
    _create(app, name)
    points = _points(embeddings["corpus_minilm"], range(5))
    points[3].payload["embedding_version"] = "2"
    with pytest.raises(grpc.RpcError) as excinfo:
        app.upsert(name, points)
    assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
    assert "points[3]" in _details(excinfo)
    assert "embedding_version" in _details(excinfo)
    assert app.count(name).count == 0
    with pytest.raises(grpc.RpcError) as excinfo:
        app.set_payload(name, {"embedding_model": "other"}, points=[0])
    assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT


def test_payload_operations_cannot_remove_the_tags(gateway, name, embeddings):
    """Clear and overwrite keep the tags; deleting a tag key is refused."""
    app = gateway.client(V1)
    _create(app, name)
    app.upsert(name, _points(embeddings["corpus_minilm"], range(3), colour="red"))
    app.clear_payload(name, points_selector=[0])
    app.overwrite_payload(name, {"shape": "round"}, points=[1])
    with pytest.raises(grpc.RpcError) as excinfo:
        app.delete_payload(name, keys=["embedding_model"], points=[2])
    assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
    by_id = {r.id: r.payload for r in app.retrieve(name, [0, 1, 2], with_payload=True)}
    tags = {"embedding_model": "emb", "embedding_version": "1"}
    assert by_id[0] == tags
    assert by_id[1] == {"shape": "round", **tags}
    assert by_id[2] == {"n": 2, "colour": "red", **tags}


def test_wrong_dimension_and_nan_name_the_point_and_field(gateway, name, embeddings):
    """A wrong-length or NaN vector is INVALID_ARGUMENT naming the point and the field."""
    app = gateway.client(V1)
    _create(app, name, dim=8)
    good = [0.1] * 8
    with pytest.raises(grpc.RpcError) as excinfo:
        app.upsert(
            name,
            [models.PointStruct(id=1, vector=good), models.PointStruct(id=7, vector=[0.1] * 7)],
        )
    assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
    assert "points[1] (id 7)" in _details(excinfo)
    assert "8" in _details(excinfo)
    with pytest.raises(grpc.RpcError) as excinfo:
        app.upsert(name, [models.PointStruct(id=2, vector=[float("nan"), *good[1:]])])
    assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
    assert "NaN" in _details(excinfo)
    assert "id 2" in _details(excinfo)
    with pytest.raises(grpc.RpcError) as excinfo:
        app.query_points(name, query=[0.1] * 9, limit=1)
    assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
    for special in (float("nan"), float("inf"), float("-inf")):  # read from the query's bytes
        with pytest.raises(grpc.RpcError) as excinfo:
            app.query_points(name, query=[0.1] * 7 + [special], limit=1)
        assert _status(excinfo) is grpc.StatusCode.INVALID_ARGUMENT
        assert "NaN or infinite" in _details(excinfo)
    assert app.count(name).count == 0


def test_aliases_and_info_show_logical_names_only(gateway, name, embeddings):
    """Aliases name logical collections; Get, Exists and alias listings never show a partition."""
    app = gateway.client(V1)
    _create(app, name)
    app.upsert(name, _points(embeddings["corpus_minilm"], range(4)))
    alias = name + "_prod"
    app.update_collection_aliases(
        [
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=alias)
            )
        ]
    )
    assert app.collection_exists(name)
    assert not app.collection_exists(name + "_missing")
    listed = {(a.alias_name, a.collection_name) for a in app.get_aliases().aliases}
    assert (alias, name) in listed
    assert all(not c.startswith("vg__") for _, c in listed)
    assert [a.alias_name for a in app.get_collection_aliases(name).aliases] == [alias]
    assert app.count(alias).count == 4
    info = app.get_collection(name)
    assert info.points_count == 4
    assert "vecgate" not in (info.config.metadata or {})
    with pytest.raises((grpc.RpcError, UnexpectedResponse)) as excinfo:
        app.get_collection(name + "_missing")
    assert _status(excinfo) is grpc.StatusCode.NOT_FOUND
    assert f"{name}_missing" in _details(excinfo)
    assert "vg__" not in _details(excinfo)


def test_delete_with_identity_drops_one_version_and_without_drops_all(gateway, name, embeddings):
    """Deleting as emb@2 drops only its partition; deleting with no identity drops everything."""
    app1, app2, anonymous = gateway.client(V1), gateway.client(V2), gateway.client()
    _create(app1, name)
    _create(app2, name)
    app2.upsert(name, _points(embeddings["corpus_minilm_ft"], range(3)))
    with pytest.raises(grpc.RpcError) as excinfo:
        app1.delete_collection(name)  # emb@1 is active while emb@2 exists
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION
    assert app2.delete_collection(name)
    with pytest.raises(grpc.RpcError) as excinfo:
        app2.count(name)
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION
    _create(app2, name)
    assert anonymous.delete_collection(name)
    assert not anonymous.collection_exists(name)
    # Nothing of it is left in the backend either: recreating starts empty.
    _create(app2, name)
    assert app2.count(name).count == 0


def test_named_vectors_take_per_name_identities(gateway, name, embeddings):
    """x-embedding-model-<vector> binds each named vector; a mismatch on one name is refused."""
    headers = {"x-embedding-model-text": "minilm@1", "x-embedding-model-title": "minilm@2"}
    app = gateway.client(headers=headers)
    app.create_collection(
        name,
        vectors_config={
            "text": models.VectorParams(size=384, distance=models.Distance.COSINE),
            "title": models.VectorParams(size=384, distance=models.Distance.COSINE),
        },
    )
    corpus, corpus_ft = embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    app.upsert(
        name,
        [
            models.PointStruct(
                id=i, vector={"text": corpus[i].tolist(), "title": corpus_ft[i].tolist()}
            )
            for i in range(5)
        ],
    )
    (record,) = app.retrieve(name, [0], with_payload=True)
    assert record.payload == {
        "embedding_model": "text=minilm,title=minilm",
        "embedding_version": "text=1,title=2",
    }
    hits = app.query_points(name, query=corpus_ft[3].tolist(), using="title", limit=1).points
    assert hits[0].id == 3
    swapped = gateway.client(
        headers={"x-embedding-model-text": "minilm@2", "x-embedding-model-title": "minilm@2"}
    )
    with pytest.raises(grpc.RpcError) as excinfo:
        swapped.query_points(name, query=corpus[3].tolist(), using="text", limit=1)
    assert _status(excinfo) is grpc.StatusCode.FAILED_PRECONDITION
    assert "text=minilm@1" in _details(excinfo)


def test_recommend_by_id_stays_inside_the_partition(gateway, name, embeddings):
    """Recommend by point id uses the stored vector of the caller's version, never another's."""
    app1, app2 = gateway.client(V1), gateway.client(V2)
    _create(app1, name)
    _create(app2, name)
    corpus, corpus_ft = embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    app1.upsert(name, _points(corpus, range(200)))
    app2.upsert(name, _points(corpus_ft, range(200)))
    query = models.RecommendQuery(recommend=models.RecommendInput(positive=[7]))
    got1 = [p.id for p in app1.query_points(name, query=query, limit=5).points]
    got2 = [p.id for p in app2.query_points(name, query=query, limit=5).points]

    def expected(vectors: np.ndarray) -> list[int]:
        scores = vectors[:200] @ vectors[7]
        order = [int(i) for i in np.argsort(-scores) if i != 7]
        return order[:5]

    assert got1 == expected(corpus)
    assert got2 == expected(corpus_ft)
    assert got1 != got2
