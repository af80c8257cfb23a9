"""Every RPC the Qdrant services declare either goes through the policy or is refused by name.

The test walks the service descriptors shipped with qdrant-client, so an RPC added
to a future proto fails here until vecgate decides what to do with it.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import qdrant_common_pb2 as common
from qdrant_client.grpc import qdrant_pb2

from proxy.frontend.ops import SERVICE_MODULES
from tests.gatewayproc import GatewayProcess

C = "coverage"
META = (("x-embedding-model", "cov@1"),)
DIM = 4


@pytest.fixture(scope="module")
def gateway(gateway_each_backend: GatewayProcess) -> GatewayProcess:
    """This suite runs through vecgate on every backend (conftest.BACKENDS)."""
    return gateway_each_backend


def _vec(x: float) -> list[float]:
    return [x, 1.0 - x, 0.5, 0.25]


def _id(n: int) -> common.PointId:
    return common.PointId(num=n)


def _point(n: int) -> ppb.PointStruct:
    point = ppb.PointStruct(id=_id(n))
    point.vectors.vector.dense.data.extend(_vec(n / 10))
    point.payload["group"].integer_value = n % 2
    return point


def _selector(*ids: int) -> ppb.PointsSelector:
    selector = ppb.PointsSelector()
    selector.points.ids.extend(_id(i) for i in ids)
    return selector


def _nearest() -> ppb.Query:
    query = ppb.Query()
    query.nearest.dense.data.extend(_vec(0.3))
    return query


def _requests() -> list[tuple[str, Any]]:
    """(full method, request) for every RPC that goes through the policy, in a working order."""
    create = cpb.CreateCollection(collection_name=C)
    create.vectors_config.params.size = DIM
    create.vectors_config.params.distance = cpb.Distance.Cosine
    aliases = cpb.ChangeAliases()
    aliases.actions.add().create_alias.CopyFrom(
        cpb.CreateAlias(collection_name=C, alias_name="cov_a")
    )
    rename = cpb.ChangeAliases()
    rename.actions.add().rename_alias.CopyFrom(
        cpb.RenameAlias(old_alias_name="cov_a", new_alias_name="cov_b")
    )
    batch = ppb.UpdateBatchPoints(collection_name=C)
    batch.operations.add().upsert.points.append(_point(9))
    vectors = ppb.UpdatePointVectors(collection_name=C)
    pv = vectors.points.add(id=_id(1))
    pv.vectors.vector.dense.data.extend(_vec(0.9))
    with_payload = ppb.WithPayloadSelector(enable=True)
    search = ppb.SearchPoints(
        collection_name=C, vector=_vec(0.2), limit=3, with_payload=with_payload
    )
    recommend = ppb.RecommendPoints(collection_name=C, positive=[_id(1)], limit=3)
    discover = ppb.DiscoverPoints(collection_name=C, limit=3)
    discover.target.single.id.CopyFrom(_id(2))
    pair = discover.context.add()
    pair.positive.id.CopyFrom(_id(3))
    pair.negative.id.CopyFrom(_id(4))
    query = ppb.QueryPoints(collection_name=C, query=_nearest(), limit=3)
    prefetched = ppb.QueryPoints(collection_name=C, limit=3)
    prefetched.prefetch.add(query=_nearest(), limit=5)
    prefetched.query.fusion = ppb.Fusion.RRF
    return [
        ("/qdrant.Qdrant/HealthCheck", qdrant_pb2.HealthCheckRequest()),
        ("/qdrant.Collections/Create", create),
        ("/qdrant.Collections/List", cpb.ListCollectionsRequest()),
        ("/qdrant.Collections/Get", cpb.GetCollectionInfoRequest(collection_name=C)),
        ("/qdrant.Collections/CollectionExists", cpb.CollectionExistsRequest(collection_name=C)),
        ("/qdrant.Collections/Update", cpb.UpdateCollection(collection_name=C)),
        ("/qdrant.Collections/UpdateAliases", aliases),
        ("/qdrant.Collections/ListAliases", cpb.ListAliasesRequest()),
        (
            "/qdrant.Collections/ListCollectionAliases",
            cpb.ListCollectionAliasesRequest(collection_name=C),
        ),
        (
            "/qdrant.Points/Upsert",
            ppb.UpsertPoints(collection_name=C, points=[_point(n) for n in range(8)]),
        ),
        ("/qdrant.Points/UpdateBatch", batch),
        ("/qdrant.Points/UpdateVectors", vectors),
        ("/qdrant.Points/Get", ppb.GetPoints(collection_name=C, ids=[_id(1)])),
        ("/qdrant.Points/Scroll", ppb.ScrollPoints(collection_name=C, limit=2)),
        ("/qdrant.Points/Count", ppb.CountPoints(collection_name=C, exact=True)),
        (
            "/qdrant.Points/CreateFieldIndex",
            ppb.CreateFieldIndexCollection(
                collection_name=C, field_name="group", field_type=ppb.FieldType.FieldTypeInteger
            ),
        ),
        ("/qdrant.Points/Facet", ppb.FacetCounts(collection_name=C, key="group", limit=5)),
        ("/qdrant.Points/Search", search),
        (
            "/qdrant.Points/SearchBatch",
            ppb.SearchBatchPoints(collection_name=C, search_points=[search, search]),
        ),
        (
            "/qdrant.Points/SearchGroups",
            ppb.SearchPointGroups(
                collection_name=C, vector=_vec(0.1), group_by="group", limit=2, group_size=2
            ),
        ),
        ("/qdrant.Points/Recommend", recommend),
        (
            "/qdrant.Points/RecommendBatch",
            ppb.RecommendBatchPoints(collection_name=C, recommend_points=[recommend]),
        ),
        (
            "/qdrant.Points/RecommendGroups",
            ppb.RecommendPointGroups(
                collection_name=C, positive=[_id(2)], group_by="group", limit=2, group_size=2
            ),
        ),
        ("/qdrant.Points/Discover", discover),
        (
            "/qdrant.Points/DiscoverBatch",
            ppb.DiscoverBatchPoints(collection_name=C, discover_points=[discover]),
        ),
        ("/qdrant.Points/Query", query),
        (
            "/qdrant.Points/QueryBatch",
            ppb.QueryBatchPoints(collection_name=C, query_points=[query, prefetched]),
        ),
        (
            "/qdrant.Points/QueryGroups",
            ppb.QueryPointGroups(
                collection_name=C, query=_nearest(), group_by="group", limit=2, group_size=2
            ),
        ),
        (
            "/qdrant.Points/SearchMatrixPairs",
            ppb.SearchMatrixPoints(collection_name=C, sample=4, limit=2),
        ),
        (
            "/qdrant.Points/SearchMatrixOffsets",
            ppb.SearchMatrixPoints(collection_name=C, sample=4, limit=2),
        ),
        (
            "/qdrant.Points/SetPayload",
            ppb.SetPayloadPoints(
                collection_name=C, payload={"k": common_value("v")}, points_selector=_selector(1)
            ),
        ),
        (
            "/qdrant.Points/OverwritePayload",
            ppb.SetPayloadPoints(
                collection_name=C, payload={"k": common_value("w")}, points_selector=_selector(2)
            ),
        ),
        (
            "/qdrant.Points/DeletePayload",
            ppb.DeletePayloadPoints(collection_name=C, keys=["k"], points_selector=_selector(1)),
        ),
        (
            "/qdrant.Points/ClearPayload",
            ppb.ClearPayloadPoints(collection_name=C, points=_selector(3)),
        ),
        (
            "/qdrant.Points/DeleteVectors",
            ppb.DeletePointVectors(
                collection_name=C,
                points_selector=_selector(9),
                vectors=ppb.VectorsSelector(names=[""]),
            ),
        ),
        (
            "/qdrant.Points/DeleteFieldIndex",
            ppb.DeleteFieldIndexCollection(collection_name=C, field_name="group"),
        ),
        ("/qdrant.Points/Delete", ppb.DeletePoints(collection_name=C, points=_selector(7))),
        ("/qdrant.Collections/UpdateAliases", rename),
        ("/qdrant.Collections/Delete", cpb.DeleteCollection(collection_name=C)),
    ]


def common_value(text: str) -> Any:
    from qdrant_client.grpc import json_with_int_pb2

    return json_with_int_pb2.Value(string_value=text)


def _descriptor_methods() -> dict[str, Any]:
    methods = {}
    for module in SERVICE_MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                methods[f"/{service.full_name}/{method.name}"] = method
    return methods


def _call(channel: grpc.Channel, path: str, request: Any, response_type: Any) -> Any:
    stub = channel.unary_unary(
        path,
        request_serializer=type(request).SerializeToString,
        response_deserializer=response_type.FromString,
    )
    return stub(request, metadata=META, timeout=30)


#: RPCs that pass the policy but that Milvus cannot answer exactly: the Milvus backend
#: answers UNIMPLEMENTED naming the RPC or the construct (docs/semantics.md, "On Milvus").
MILVUS_UNIMPLEMENTED = {
    "/qdrant.Points/DeleteVectors",
    "/qdrant.Points/SearchGroups",
    "/qdrant.Points/RecommendGroups",
    "/qdrant.Points/Discover",
    "/qdrant.Points/DiscoverBatch",
    "/qdrant.Points/QueryGroups",
    "/qdrant.Points/QueryBatch",  # its request holds a prefetch
    "/qdrant.Points/Facet",
    "/qdrant.Points/SearchMatrixPairs",
    "/qdrant.Points/SearchMatrixOffsets",
}


def test_every_rpc_is_served_through_the_policy_or_refused_by_name(gateway, request):
    """Walking the descriptors: each RPC answers OK via the chain, or UNIMPLEMENTED by name
    (on Milvus, also the RPCs of MILVUS_UNIMPLEMENTED, after passing the policy)."""
    from google.protobuf.message_factory import GetMessageClass

    on_milvus = request.node.callspec.params.get("gateway_each_backend") == "milvus"
    refused_by_backend = MILVUS_UNIMPLEMENTED if on_milvus else set()

    methods = _descriptor_methods()
    served = dict.fromkeys(path for path, _ in _requests())
    unsupported = [path for path in methods if path not in served]
    assert set(served) <= set(methods)
    assert len(methods) == 51
    assert len(unsupported) == 13, unsupported

    with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as channel:
        for path, message in _requests():
            response_type = GetMessageClass(methods[path].output_type)
            if path in refused_by_backend:
                with pytest.raises(grpc.RpcError) as excinfo:
                    _call(channel, path, message, response_type)
                assert excinfo.value.code() is grpc.StatusCode.UNIMPLEMENTED, path
                assert "not supported on the Milvus backend" in excinfo.value.details()
                continue
            try:
                _call(channel, path, message, response_type)
            except grpc.RpcError as exc:
                pytest.fail(f"{path} failed: {exc.code()} {exc.details()}")
        for path in unsupported:
            method = methods[path]
            request = GetMessageClass(method.input_type)()
            with pytest.raises(grpc.RpcError) as excinfo:
                _call(channel, path, request, GetMessageClass(method.output_type))
            assert excinfo.value.code() is grpc.StatusCode.UNIMPLEMENTED, path
            assert method.name in excinfo.value.details(), excinfo.value.details()
            assert "not supported" in excinfo.value.details()

    labels = {path.lstrip("/").removeprefix("qdrant.") for path in methods}
    logged = {}
    for record in gateway.requests_for(labels):
        logged.setdefault(record["method"], []).append(record)
    for path in methods:
        label = path.lstrip("/").removeprefix("qdrant.")
        assert label in logged, f"{path} left no record of passing through the chain"
    for path in served:
        label = path.lstrip("/").removeprefix("qdrant.")
        if path in refused_by_backend:  # passed the chain, refused by the Milvus backend
            assert {r["status"] for r in logged[label]} == {"UNIMPLEMENTED"}, label
            continue
        decisions = {r["decision"] for r in logged[label]}
        assert decisions & {"routed", "served"}, (label, decisions)
    for path in unsupported:
        label = path.lstrip("/").removeprefix("qdrant.")
        assert {r["status"] for r in logged[label]} == {"UNIMPLEMENTED"}
    searched = [r for r in logged["Points/Search"] if r["decision"] == "routed"]
    assert searched[0]["identity"] == "cov@1"
