"""Every refusal vecgate makes on the data plane, with its status and sentence, in one table.

Each row is one request a client can send and the exact gRPC status it gets, with a
phrase of the sentence that says what to change. (UNAVAILABLE and DEADLINE_EXCEEDED
need a backend that fails: tests/integration/test_remote_backend.py and
test_limits.py; RESOURCE_EXHAUSTED for overload: test_limits.py.) docs/semantics.md
lists the same table for readers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb

from proxy.config import hash_key
from tests.gatewayproc import GatewayProcess

WRITER, READER, SCOPED = "w-key", "r-key", "s-key"
PAST = "2020-01-01"
CONFIG = f"""
[server]
max_message_mb = 1
[limits]
max_points_per_request = 5
max_top_k = 50
max_dimension = 128
[deprecation]
on_sunset = "refuse"
[[keys]]
name = "writer"
sha256 = "{hash_key(WRITER)}"
[[keys]]
name = "reader"
sha256 = "{hash_key(READER)}"
role = "reader"
[[keys]]
name = "scoped"
sha256 = "{hash_key(SCOPED)}"
collections = ["other"]
[[models]]
name = "emb@1"
dimension = 4
distance = "Cosine"
[[models]]
name = "old@1"
dimension = 4
distance = "Cosine"
sunset = {PAST}
"""


def _meta(identity: str | None = "emb@1", key: str | None = WRITER) -> list[tuple[str, str]]:
    meta = [("api-key", key)] if key else []
    return meta + ([("x-embedding-model", identity)] if identity else [])


def _query(collection: str = "docs", size: int = 4, limit: int = 3) -> ppb.QueryPoints:
    request = ppb.QueryPoints(collection_name=collection, limit=limit)
    request.query.nearest.dense.data.extend([0.5] * size)
    return request


def _upsert(points: int = 1, vector: list[float] | None = None, payload: Any = None) -> Any:
    request = ppb.UpsertPoints(collection_name="docs", wait=True)
    for n in range(points):
        point = request.points.add()
        point.id.num = 100 + n
        point.vectors.vector.dense.data.extend(vector or [1.0, 0.0, 0.0, 0.0])
        for key, value in (payload or {}).items():
            point.payload[key].string_value = value
    return request


def _create(name: str, size: int = 4) -> cpb.CreateCollection:
    request = cpb.CreateCollection(collection_name=name)
    request.vectors_config.params.size = size
    request.vectors_config.params.distance = cpb.Distance.Cosine
    return request


def _missing_point_update() -> ppb.UpdatePointVectors:
    request = ppb.UpdatePointVectors(collection_name="docs", wait=True)
    point = request.points.add()
    point.id.num = 424242
    point.vectors.vector.dense.data.extend([1.0, 0.0, 0.0, 0.0])
    return request


@dataclass(frozen=True)
class Row:
    """One request, the status it gets and a phrase of its sentence."""

    rpc: str
    request: Callable[[], Any]
    metadata: list[tuple[str, str]]
    status: grpc.StatusCode
    phrase: str


S = grpc.StatusCode
ROWS: dict[str, Row] = {
    "unpinned version (latest)": Row(
        "/qdrant.Points/Query", _query, _meta("emb@latest"), S.INVALID_ARGUMENT, "latest"
    ),
    "identity without a version": Row(
        "/qdrant.Points/Query", _query, _meta("emb"), S.INVALID_ARGUMENT, "has no version"
    ),
    "conflicting identity headers": Row(
        "/qdrant.Points/Query",
        _query,
        [*_meta("emb@1"), ("x-embedding-model", "emb@2")],
        S.INVALID_ARGUMENT,
        "more than once",
    ),
    "cross-version search": Row(
        "/qdrant.Points/Query", _query, _meta("emb@3"), S.FAILED_PRECONDITION, "no index built"
    ),
    "search without identity": Row(
        "/qdrant.Points/Query", _query, _meta(None), S.FAILED_PRECONDITION, "x-embedding-model"
    ),
    "unknown collection": Row(
        "/qdrant.Points/Query", lambda: _query("nope"), _meta(), S.NOT_FOUND, "`nope`"
    ),
    "wrong dimension": Row(
        "/qdrant.Points/Query", lambda: _query(size=3), _meta(), S.INVALID_ARGUMENT, "dimension"
    ),
    "NaN in a vector": Row(
        "/qdrant.Points/Upsert",
        lambda: _upsert(vector=[float("nan"), 0.0, 0.0, 0.0]),
        _meta(),
        S.INVALID_ARGUMENT,
        "NaN",
    ),
    "forged tag": Row(
        "/qdrant.Points/Upsert",
        lambda: _upsert(payload={"embedding_model": "other"}),
        _meta(),
        S.INVALID_ARGUMENT,
        "embedding_model",
    ),
    "too many points": Row(
        "/qdrant.Points/Upsert",
        lambda: _upsert(points=6),
        _meta(),
        S.INVALID_ARGUMENT,
        "limits.max_points_per_request",
    ),
    "top-k over the limit": Row(
        "/qdrant.Points/Query", lambda: _query(limit=51), _meta(), S.INVALID_ARGUMENT, "max_top_k"
    ),
    "dimension over the limit": Row(
        "/qdrant.Collections/Create",
        lambda: _create("wide", 129),
        _meta(),
        S.INVALID_ARGUMENT,
        "limits.max_dimension",
    ),
    "shape contradicts the model": Row(
        "/qdrant.Collections/Create",
        lambda: _create("shaped", 8),
        _meta(),
        S.INVALID_ARGUMENT,
        "registered with 4",
    ),
    "version already exists": Row(
        "/qdrant.Collections/Create", lambda: _create("docs"), _meta(), S.ALREADY_EXISTS, "docs"
    ),
    "model past its sunset": Row(
        "/qdrant.Collections/Create",
        lambda: _create("legacy"),
        _meta("old@1"),
        S.FAILED_PRECONDITION,
        "sunset",
    ),
    "no api-key while keys exist": Row(
        "/qdrant.Points/Query", _query, _meta(key=None), S.UNAUTHENTICATED, "needs an api-key"
    ),
    "unknown api-key": Row(
        "/qdrant.Points/Query", _query, _meta(key="nobody"), S.UNAUTHENTICATED, "not known"
    ),
    "reader writes": Row(
        "/qdrant.Points/Upsert", _upsert, _meta(key=READER), S.PERMISSION_DENIED, "role reader"
    ),
    "key outside its scope": Row(
        "/qdrant.Points/Query", _query, _meta(key=SCOPED), S.PERMISSION_DENIED, "scope"
    ),
    "unsupported RPC": Row(
        "/qdrant.Snapshots/Create",
        lambda: cpb.CreateCollection(collection_name="docs"),
        _meta(),
        S.UNIMPLEMENTED,
        "snapshots",
    ),
    "update of a missing point": Row(
        "/qdrant.Points/UpdateVectors",
        _missing_point_update,
        _meta(),
        S.NOT_FOUND,
        "No point with id",
    ),
    "message over the size limit": Row(
        "/qdrant.Points/Upsert",
        lambda: _upsert(payload={"blob": "x" * 1_200_000}),
        _meta(),
        S.RESOURCE_EXHAUSTED,
        "larger than max",
    ),
}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """`docs` under emb@1 (4-d) with one point, written with the writer key."""
    proc = GatewayProcess(tmp_path_factory.mktemp("table") / "data", CONFIG).start()
    with grpc.insecure_channel(f"127.0.0.1:{proc.grpc_port}") as channel:
        channel.unary_unary(
            "/qdrant.Collections/Create",
            request_serializer=cpb.CreateCollection.SerializeToString,
            response_deserializer=cpb.CollectionOperationResponse.FromString,
        )(_create("docs"), metadata=_meta(), timeout=30)
        upsert = _upsert()
        upsert.points[0].id.num = 1
        channel.unary_unary(
            "/qdrant.Points/Upsert",
            request_serializer=ppb.UpsertPoints.SerializeToString,
            response_deserializer=ppb.PointsOperationResponse.FromString,
        )(upsert, metadata=_meta(), timeout=30)
    yield proc
    proc.stop()


@pytest.mark.parametrize("case", list(ROWS), ids=list(ROWS))
def test_status_table(gw, case):
    """The request of this row gets exactly its status, with a sentence saying why."""
    row = ROWS[case]
    with grpc.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as channel:
        call = channel.unary_unary(row.rpc, request_serializer=lambda m: m.SerializeToString())
        with pytest.raises(grpc.RpcError) as refused:
            call(row.request(), metadata=row.metadata, timeout=30)
    assert refused.value.code() == row.status, refused.value.details()
    assert row.phrase in refused.value.details()


def test_the_table_did_not_change_the_collection(gw):
    """After every refusal above, `docs` holds exactly its one point, with vecgate's tags."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        client = gw.client("emb@1", api_key=WRITER, https=False)
    records, _ = client.scroll("docs", limit=10, with_payload=True)
    assert [r.id for r in records] == [1]
    assert records[0].payload == {"embedding_model": "emb", "embedding_version": "1"}
