"""Security, through the real client: who may do what, and what nobody may do.

Keys exist, so a request without one is refused; a reader cannot write; a key
scoped to one collection cannot reach another (nor its alias); a writer cannot call
the admin API; nobody can forge vecgate's tags.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import grpc
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.grpc import qdrant_pb2, qdrant_pb2_grpc

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess

WRITER, READER, TENANT, ADMIN = "w-key", "r-key", "t-key", "a-key"
CONFIG = f"""
[[keys]]
name = "writer"
sha256 = "{hash_key(WRITER)}"
identity = "emb@1"
[[keys]]
name = "reader"
sha256 = "{hash_key(READER)}"
identity = "emb@1"
role = "reader"
[[keys]]
name = "tenant"
sha256 = "{hash_key(TENANT)}"
identity = "emb@1"
collections = ["tenant_docs"]
[[keys]]
name = "ops"
sha256 = "{hash_key(ADMIN)}"
role = "admin"
"""
VECTOR = [1.0, 0.0, 0.5, 0.0]


def _client(gw: GatewayProcess, key: str | None) -> QdrantClient:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        if key is None:
            return gw.client("emb@1")
        return gw.client(api_key=key, https=False)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """`docs` (with alias `docs_alias`) and `tenant_docs`, written by the writer key."""
    proc = GatewayProcess(tmp_path_factory.mktemp("security") / "data", CONFIG).start()
    writer = _client(proc, WRITER)
    for name in ("docs", "tenant_docs"):
        writer.create_collection(name, models.VectorParams(size=4, distance="Cosine"))
        writer.upsert(name, [models.PointStruct(id=1, vector=VECTOR, payload={"t": name})])
    writer.update_collection_aliases(
        [
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name="docs", alias_name="docs_alias")
            )
        ]
    )
    yield proc
    proc.stop()


def _refused(call, status: grpc.StatusCode, needle: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        call()
    assert refused.value.code() == status, refused.value.details()
    assert needle in refused.value.details()


def test_no_key_when_keys_exist_is_unauthenticated(gw):
    """Reader/writer keys are configured: an anonymous search is refused and says why."""
    anonymous = _client(gw, None)
    _refused(
        lambda: anonymous.query_points("docs", query=VECTOR),
        grpc.StatusCode.UNAUTHENTICATED,
        "needs an api-key",
    )
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:  # health stays open
        stub = qdrant_pb2_grpc.QdrantStub(channel)  # type: ignore[no-untyped-call]
        assert stub.HealthCheck(qdrant_pb2.HealthCheckRequest(), timeout=5).version


def test_reader_key_cannot_write(gw):
    """A reader searches; its upsert and delete are PERMISSION_DENIED; nothing changes."""
    reader = _client(gw, READER)
    assert reader.query_points("docs", query=VECTOR).points
    _refused(
        lambda: reader.upsert("docs", [models.PointStruct(id=2, vector=VECTOR)]),
        grpc.StatusCode.PERMISSION_DENIED,
        "role reader",
    )
    _refused(lambda: reader.delete_collection("docs"), grpc.StatusCode.PERMISSION_DENIED, "role")
    assert _client(gw, WRITER).count("docs").count == 1


def test_scoped_key_cannot_reach_another_collection_or_its_alias(gw):
    """The tenant key reads tenant_docs only: docs and docs_alias are PERMISSION_DENIED,
    and listing collections shows only its own."""
    tenant = _client(gw, TENANT)
    assert tenant.query_points("tenant_docs", query=VECTOR).points
    for name in ("docs", "docs_alias"):
        _refused(
            lambda name=name: tenant.query_points(name, query=VECTOR),
            grpc.StatusCode.PERMISSION_DENIED,
            "scope",
        )
    assert [c.name for c in tenant.get_collections().collections] == ["tenant_docs"]


def test_writer_key_cannot_call_the_admin_api(gw):
    """Admin calls with a writer key are PERMISSION_DENIED; with the admin key they work."""
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        admin = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
        _refused(
            lambda: admin.ListKeys(admin_pb2.ListKeysRequest(), metadata=(("api-key", WRITER),)),
            grpc.StatusCode.PERMISSION_DENIED,
            "admin",
        )
        keys = admin.ListKeys(admin_pb2.ListKeysRequest(), metadata=(("api-key", ADMIN),))
        assert all(len(k.fingerprint) == 8 for k in keys.keys)  # never the secret


def test_nobody_can_forge_vecgate_tags(gw):
    """A payload claiming another model is refused, whoever sends it, and not written."""
    writer = _client(gw, WRITER)
    forged = models.PointStruct(id=9, vector=VECTOR, payload={"embedding_model": "other"})
    _refused(
        lambda: writer.upsert("docs", [forged]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "embedding_model",
    )
    assert writer.retrieve("docs", ids=[9]) == []
