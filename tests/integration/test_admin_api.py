"""The admin API and the policy it configures, through real gRPC calls to `vecgate serve`."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from qdrant_client import models
from qdrant_client.grpc import points_pb2 as ppb

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess

ADMIN, WRITER, READER, SCOPED = "adm-secret", "w-secret", "r-secret", "s-secret"
SOON = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
PAST = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
CONFIG = f"""
[server]
allow_anonymous = true  # anonymous callers are part of what these tests explain
[[keys]]
name = "ops"
sha256 = "{hash_key(ADMIN)}"
role = "admin"
[[keys]]
name = "indexer"
sha256 = "{hash_key(WRITER)}"
identity = "emb@1"
[[keys]]
name = "viewer"
sha256 = "{hash_key(READER)}"
identity = "emb@1"
role = "reader"
[[keys]]
name = "tenant"
sha256 = "{hash_key(SCOPED)}"
identity = "emb@1"
collections = ["tenant_docs"]
[[models]]
name = "emb@1"
dimension = 4
distance = "Cosine"
sunset = "{SOON}"
[[models]]
name = "old@1"
dimension = 4
distance = "Cosine"
sunset = "{PAST}"
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    proc = GatewayProcess(tmp_path_factory.mktemp("admin") / "data", CONFIG).start()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        writer = proc.client(api_key=WRITER, https=False)
        for name in ("docs", "tenant_docs"):
            writer.create_collection(
                name, vectors_config=models.VectorParams(size=4, distance="Cosine")
            )
            writer.upsert(
                name, [models.PointStruct(id=i, vector=[1.0, i, 0.5, 0.0]) for i in range(6)]
            )
        proc.client("emb@2").create_collection(
            "docs", vectors_config=models.VectorParams(size=4, distance="Cosine")
        )
    yield proc
    proc.stop()


@pytest.fixture
def admin(gw):
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        yield admin_pb2_grpc.AdminStub(channel)


def _meta(key: str | None) -> tuple[tuple[str, str], ...]:
    return (("api-key", key),) if key else ()


def _client(gw, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        return gw.client(https=False, **kwargs)


def test_admin_calls_need_an_admin_key(admin):
    """No key: UNAUTHENTICATED; a writer or reader key: PERMISSION_DENIED; admin key: OK."""
    with pytest.raises(grpc.RpcError) as excinfo:
        admin.Status(admin_pb2.StatusRequest(), timeout=10)
    assert excinfo.value.code() is grpc.StatusCode.UNAUTHENTICATED
    for key in (WRITER, READER):
        with pytest.raises(grpc.RpcError) as excinfo:
            admin.ListKeys(admin_pb2.ListKeysRequest(), metadata=_meta(key), timeout=10)
        assert excinfo.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "admin" in excinfo.value.details()
    status = admin.Status(admin_pb2.StatusRequest(), metadata=_meta(ADMIN), timeout=10)
    assert (status.collections, status.partitions, status.keys) == (2, 3, 4)


def test_list_collections_shows_versions_counts_and_the_active_one(admin):
    """Both versions of `docs` appear with dimension, point count and state."""
    reply = admin.ListCollections(
        admin_pb2.ListCollectionsRequest(), metadata=_meta(ADMIN), timeout=10
    )
    docs = next(c for c in reply.collections if c.name == "docs")
    assert docs.active == "emb@1"
    by_identity = {v.identity: v for v in docs.versions}
    assert set(by_identity) == {"emb@1", "emb@2"}
    assert (by_identity["emb@1"].points, by_identity["emb@1"].state) == (6, "active")
    assert (by_identity["emb@2"].points, by_identity["emb@2"].state) == (0, "inactive")
    assert by_identity["emb@2"].vectors[0].dimension == 4


def test_list_keys_never_shows_a_secret(admin):
    """Keys are listed with identity, role and scope, and only a fingerprint of the hash."""
    reply = admin.ListKeys(admin_pb2.ListKeysRequest(), metadata=_meta(ADMIN), timeout=10)
    keys = {k.name: k for k in reply.keys}
    assert keys["tenant"].collections == ["tenant_docs"]
    assert keys["viewer"].role == "reader"
    assert keys["indexer"].fingerprint == hash_key(WRITER)[:8]
    text = str(reply)
    assert all(secret not in text for secret in (ADMIN, WRITER, READER, SCOPED))
    assert hash_key(WRITER) not in text


def _explain(admin, **fields) -> admin_pb2.ExplainReply:
    return admin.Explain(admin_pb2.ExplainRequest(**fields), metadata=_meta(ADMIN), timeout=10)


def test_explain_predicts_the_real_request(gw, admin):
    """Explain's partition or refusal equals what a real search then gets, word for word."""
    routed = _explain(admin, collection="docs", identity="emb@2", operation="search")
    assert routed.allowed
    assert routed.version == "emb@2"
    seen = len([r for r in gw.requests() if r["method"] == "Points/Query"])
    _client(gw, headers={"x-embedding-model": "emb@2"}).query_points("docs", query=[1, 0, 0, 0])
    deadline = time.monotonic() + 5  # the log line arrives through a pipe, a moment later
    while len(queries := [r for r in gw.requests() if r["method"] == "Points/Query"]) <= seen:
        assert time.monotonic() < deadline, "no request log line for the real search"
        time.sleep(0.05)
    assert queries[seen]["partition"] == routed.partition

    cases = [
        ({"identity": "emb@3"}, {"headers": {"x-embedding-model": "emb@3"}}, "FAILED_PRECONDITION"),
        (
            {"identity": "emb@latest"},
            {"headers": {"x-embedding-model": "emb@latest"}},
            "INVALID_ARGUMENT",
        ),
        ({"api_key": "not-a-key"}, {"api_key": "not-a-key"}, "UNAUTHENTICATED"),
        ({}, {}, "FAILED_PRECONDITION"),
    ]
    for caller, client_kwargs, status in cases:
        predicted = _explain(admin, collection="docs", operation="search", **caller)
        assert not predicted.allowed
        assert predicted.status == status
        with pytest.raises(grpc.RpcError) as excinfo:
            _client(gw, **client_kwargs).query_points("docs", query=[1.0, 0.0, 0.0, 0.0])
        assert excinfo.value.code().name == status
        assert excinfo.value.details() == predicted.message


def test_deprecation_warning_reaches_the_client_as_trailing_metadata(gw, admin):
    """A model two days from sunset is flagged in ListModels and warns every response."""
    reply = admin.ListModels(admin_pb2.ListModelsRequest(), metadata=_meta(ADMIN), timeout=10)
    by_name = {f"{m.name}@{m.version}": m for m in reply.models}
    assert by_name["emb@1"].deprecation == "near"
    assert by_name["emb@1"].days_to_sunset == 2
    assert by_name["old@1"].deprecation == "past"
    assert "docs" in by_name["emb@1"].collections
    client = _client(gw)
    request = ppb.CountPoints(collection_name="docs", exact=True)
    _, call = client.grpc_points.Count.with_call(
        request, metadata=(("x-embedding-model", "emb@1"),)
    )
    trailers = [v for k, v in call.trailing_metadata() if k == "vecgate-warning"]
    assert trailers == [
        f"model emb@1 reaches its sunset date {SOON} in 2 day(s); "
        "plan the migration to a supported version"
    ]
    _, call = client.grpc_points.Count.with_call(
        request, metadata=(("x-embedding-model", "emb@2"),)
    )
    assert not [v for k, v in call.trailing_metadata() if k == "vecgate-warning"]


def test_roles_and_scopes_are_enforced(gw):
    """A reader cannot write; a scoped key reaches only its collections and lists only those."""
    reader = _client(gw, api_key=READER)
    assert reader.count("docs").count == 6
    with pytest.raises(grpc.RpcError) as excinfo:
        reader.upsert("docs", [models.PointStruct(id=99, vector=[1.0, 0, 0, 0])])
    assert excinfo.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "reader" in excinfo.value.details()
    tenant = _client(gw, api_key=SCOPED)
    assert tenant.count("tenant_docs").count == 6
    with pytest.raises(grpc.RpcError) as excinfo:
        tenant.count("docs")
    assert excinfo.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert [c.name for c in tenant.get_collections().collections] == ["tenant_docs"]


def test_registered_model_shape_is_enforced_and_persisted(gw, admin):
    """A registered model's dimension is checked at Create; registration survives in the backend."""
    view = admin.RegisterModel(
        admin_pb2.RegisterModelRequest(
            model="wide@1", dimension=8, distance="Cosine", sunset="2030-01-01"
        ),
        metadata=_meta(ADMIN),
        timeout=10,
    )
    assert (view.source, view.dimension, view.deprecation) == ("registered", 8, "")
    with pytest.raises(grpc.RpcError) as excinfo:
        admin.RegisterModel(
            admin_pb2.RegisterModelRequest(model="wide@latest", dimension=8, distance="Cosine"),
            metadata=_meta(ADMIN),
            timeout=10,
        )
    assert excinfo.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as excinfo:
        _client(gw, headers={"x-embedding-model": "wide@1"}).create_collection(
            "wide", vectors_config=models.VectorParams(size=4, distance="Cosine")
        )
    assert excinfo.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "registered with 8" in excinfo.value.details()
    updated = admin.UpdateModel(
        admin_pb2.UpdateModelRequest(model="wide@1", notes="replaced by wide@2"),
        metadata=_meta(ADMIN),
        timeout=10,
    )
    assert (updated.notes, updated.sunset) == ("replaced by wide@2", "2030-01-01")
    listed = admin.ListModels(admin_pb2.ListModelsRequest(), metadata=_meta(ADMIN), timeout=10)
    assert "wide" in {m.name for m in listed.models}
    # Clients never see the registry's own backend collection.
    assert "vg__models" not in [
        c.name for c in _client(gw, api_key=WRITER).get_collections().collections
    ]


def test_a_bug_in_the_admin_api_is_internal_never_unknown(tmp_path):
    """A corrupt migration record makes MigrationHistory INTERNAL with a sentence, not UNKNOWN."""
    import asyncio

    from adapters.embedded import EmbeddedBackend
    from proxy.store import RecordStore

    async def corrupt() -> None:
        backend = EmbeddedBackend(tmp_path / "data")
        await RecordStore(backend, "vg__migrations").put("docs", '{"collection": "docs"}')
        await backend.close()

    asyncio.run(corrupt())
    proc = GatewayProcess(tmp_path / "data", CONFIG).start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{proc.grpc_port}") as channel:
            stub = admin_pb2_grpc.AdminStub(channel)
            with pytest.raises(grpc.RpcError) as excinfo:
                stub.MigrationHistory(
                    admin_pb2.MigrationHistoryRequest(), metadata=_meta(ADMIN), timeout=10
                )
        assert excinfo.value.code() is grpc.StatusCode.INTERNAL
        assert excinfo.value.details().startswith("internal error in vecgate: TypeError")
    finally:
        proc.stop()
    assert any('"admin call failed"' in line for line in proc.log_lines)
