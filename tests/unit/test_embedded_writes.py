"""The embedded backend's point writes: validation before writing, payload semantics, batches."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
import qdrant_edge as qe
from qdrant_client import QdrantClient, models
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import qdrant_common_pb2 as qc

from adapters.embedded import EmbeddedBackend
from proxy.errors import InvalidArgument, NotFound, Unimplemented
from proxy.values import payload_to_python, python_to_payload
from proxy.wire_points import read_upsert

DIM = 4


def call(backend: EmbeddedBackend, method: str, request: Any) -> Any:
    """One RPC through the backend's public entry point."""
    return asyncio.run(backend.handle(method, request))


@pytest.fixture
def backend(tmp_path: Path) -> Any:
    opened = EmbeddedBackend(tmp_path)
    request = cpb.CreateCollection(
        collection_name="docs",
        vectors_config=cpb.VectorsConfig(
            params_map=cpb.VectorParamsMap(
                map={
                    "": cpb.VectorParams(size=DIM, distance=cpb.Dot),
                    "multi": cpb.VectorParams(
                        size=2,
                        distance=cpb.Dot,
                        multivector_config=cpb.MultiVectorConfig(comparator=cpb.MaxSim),
                    ),
                }
            )
        ),
        sparse_vectors_config=cpb.SparseVectorConfig(map={"sparse": cpb.SparseVectorParams()}),
    )
    call(opened, "/qdrant.Collections/Create", request)
    yield opened
    asyncio.run(opened.close())


def point(
    point_id: int | str, dense: list[float] | None = None, payload: dict[str, Any] | None = None
) -> ppb.PointStruct:
    p = ppb.PointStruct()
    if isinstance(point_id, int):
        p.id.num = point_id
    else:
        p.id.uuid = point_id
    p.vectors.vectors.vectors[""].dense.data.extend(
        dense if dense is not None else [1.0, 0.0, 0.0, 0.0]
    )
    python_to_payload(payload or {}, p.payload)
    return p


def upsert(backend: EmbeddedBackend, *points: ppb.PointStruct, **fields: Any) -> Any:
    return call(
        backend,
        "/qdrant.Points/Upsert",
        ppb.UpsertPoints(collection_name="docs", points=points, **fields),
    )


def ids(*values: int) -> ppb.PointsSelector:
    return ppb.PointsSelector(points=ppb.PointsIdsList(ids=[qc.PointId(num=v) for v in values]))


def match(key: str, value: str) -> qc.Filter:
    condition = qc.Condition(field=qc.FieldCondition(key=key, match=qc.Match(keyword=value)))
    return qc.Filter(must=[condition])


def stored(backend: EmbeddedBackend) -> dict[Any, Any]:
    """Every point's id -> (payload, vector) straight from the engine."""
    shard = backend.catalog.get("docs").shard
    records, _ = shard.scroll(qe.ScrollRequest(limit=1000, with_payload=True, with_vector=True))
    return {r.id: (r.payload, r.vector) for r in records}


def payloads(backend: EmbeddedBackend) -> dict[Any, Any]:
    return {key: payload for key, (payload, _) in stored(backend).items()}


def count(backend: EmbeddedBackend) -> int:
    return backend.catalog.get("docs").shard.info().points_count


# ------------------------------------------------------------------ upsert validation


def test_upsert_acknowledges_with_an_operation_id(backend):
    """An upsert answers COMPLETED with increasing operation ids, and the points are stored."""
    first = upsert(backend, point(1, payload={"a": 1}))
    second = upsert(backend, point(2))
    assert first.result.status == ppb.Completed
    assert second.result.operation_id > first.result.operation_id
    assert payloads(backend) == {1: {"a": 1}, 2: {}}


def test_a_wrong_dimension_anywhere_writes_nothing(backend):
    """One short vector in a batch refuses the batch in Qdrant's words; no point is written."""
    batch = [point(i) for i in range(5)] + [point(5, [1.0, 2.0, 3.0])] + [point(6)]
    with pytest.raises(
        InvalidArgument,
        match=r"^Wrong input: Vector dimension error: expected dim: 4, got 3$",
    ):
        upsert(backend, *batch)
    assert count(backend) == 0


def test_unknown_vector_name_is_named(backend):
    """A vector name the collection does not have is InvalidArgument naming it."""
    p = point(1)
    p.vectors.vectors.vectors["imaginary"].dense.data.extend([1.0])
    with pytest.raises(InvalidArgument, match="Not existing vector name error: imaginary"):
        upsert(backend, point(0), p)
    assert count(backend) == 0


@pytest.mark.parametrize(
    ("name", "fill", "match_text"),
    [
        (
            "multi",
            lambda v: v.multi_dense.vectors.extend(
                [ppb.DenseVector(data=[1.0, 2.0]), ppb.DenseVector(data=[1.0])]
            ),
            "expected dim: 2, got 1",
        ),
        (
            "multi",
            lambda v: v.multi_dense.vectors.extend([ppb.DenseVector(data=[1.0, 2.0, 3.0])] * 2),
            "expected dim: 2, got 3",
        ),
        (
            "sparse",
            lambda v: (v.sparse.indices.extend([1, 2]), v.sparse.values.extend([0.5])),
            "indices",
        ),
        (
            "sparse",
            lambda v: (v.sparse.indices.extend([3, 3]), v.sparse.values.extend([1, 2])),
            "must be unique",
        ),
        ("sparse", lambda v: v.dense.data.extend([1.0]), "sparse and regular"),
        (
            "",
            lambda v: v.multi_dense.vectors.extend([ppb.DenseVector(data=[1.0] * 4)]),
            "multi and regular",
        ),
    ],
)
def test_malformed_vectors_are_refused_before_the_engine(backend, name, fill, match_text):
    """Uneven multi-vectors and bad sparse vectors never reach the engine (it would panic)."""
    p = point(1)
    fill(p.vectors.vectors.vectors[name])
    with pytest.raises(InvalidArgument, match=match_text):
        upsert(backend, point(0), p)
    assert count(backend) == 0
    data_dir = backend.catalog.data_dir
    asyncio.run(backend.close())
    reopened = EmbeddedBackend(data_dir)  # the WAL holds nothing that fails to replay
    assert reopened.catalog.get("docs").shard.info().points_count == 0
    asyncio.run(reopened.close())


def test_named_sparse_and_multi_vectors_are_stored(backend):
    """Valid multi-dense and sparse vectors are written with the dense one."""
    p = point(1)
    p.vectors.vectors.vectors["multi"].multi_dense.vectors.extend(
        [ppb.DenseVector(data=[1.0, 2.0]), ppb.DenseVector(data=[3.0, 4.0])]
    )
    p.vectors.vectors.vectors["sparse"].sparse.indices.extend([7, 3])
    p.vectors.vectors.vectors["sparse"].sparse.values.extend([0.5, 0.25])
    upsert(backend, p)
    vector = stored(backend)[1][1]
    assert vector["multi"] == [[1.0, 2.0], [3.0, 4.0]]
    sparse = vector["sparse"]
    assert sorted(zip(sparse.indices, sparse.values, strict=True)) == [(3, 0.25), (7, 0.5)]


def test_point_without_id_or_vectors_is_refused(backend):
    """Missing id or vectors: Qdrant's InvalidArgument texts."""
    no_id = point(1)
    no_id.ClearField("id")
    with pytest.raises(InvalidArgument, match="Empty ID is not allowed"):
        upsert(backend, no_id)
    no_vectors = point(1)
    no_vectors.ClearField("vectors")
    with pytest.raises(InvalidArgument, match="Expected some vectors"):
        upsert(backend, no_vectors)


def test_conditional_upsert_and_update_modes(backend):
    """update_filter skips non-matching existing points; insert-only and update-only modes."""
    upsert(backend, point(1, payload={"v": "old"}), point(2, payload={"v": "keep"}))
    upsert(
        backend,
        point(1, payload={"v": "new"}),
        point(2, payload={"v": "changed"}),
        point(3, payload={"v": "inserted"}),
        update_filter=match("v", "old"),
    )
    assert payloads(backend) == {1: {"v": "new"}, 2: {"v": "keep"}, 3: {"v": "inserted"}}
    upsert(backend, point(1, payload={"v": "x"}), point(4), update_mode=ppb.InsertOnly)
    upsert(backend, point(3, payload={"v": "y"}), point(5), update_mode=ppb.UpdateOnly)
    assert payloads(backend) == {
        1: {"v": "new"},
        2: {"v": "keep"},
        3: {"v": "y"},
        4: {},
    }


def test_shard_keys_are_unimplemented(backend):
    """A shard key selector is refused by name: collections are single-shard."""
    with pytest.raises(Unimplemented, match="shard_key_selector"):
        upsert(
            backend,
            point(1),
            shard_key_selector=ppb.ShardKeySelector(shard_keys=[cpb.ShardKey(keyword="a")]),
        )


def test_uuid_ids_in_any_spelling(backend):
    """A UUID id is one point whatever its spelling, and usable by later by-id writes."""
    key = uuid.uuid4()
    upsert(backend, point(str(key).upper()))
    request = ppb.SetPayloadPoints(collection_name="docs")
    request.points_selector.points.ids.add().uuid = str(key)
    request.payload["x"].integer_value = 1
    call(backend, "/qdrant.Points/SetPayload", request)
    assert payloads(backend) == {key: {"x": 1}}


# ------------------------------------------------------------------ payload parity


def _grpc_payload_ops(backend: EmbeddedBackend) -> None:
    def set_payload(
        selector: ppb.PointsSelector,
        payload: dict[str, Any],
        key: str | None,
        method: str = "/qdrant.Points/SetPayload",
    ) -> None:
        request = ppb.SetPayloadPoints(collection_name="docs", points_selector=selector)
        python_to_payload(payload, request.payload)
        if key is not None:
            request.key = key
        call(backend, method, request)

    set_payload(ids(1, 2), {"color": "red", "n": {"x": 1}}, None)
    set_payload(ids(2), {"deep": True}, "n")
    set_payload(ppb.PointsSelector(filter=match("color", "red")), {"tag": [1, 2]}, None)
    set_payload(ids(3), {"only": "this"}, None, "/qdrant.Points/OverwritePayload")
    delete = ppb.DeletePayloadPoints(collection_name="docs", keys=["color", "n.x"])
    delete.points_selector.CopyFrom(ids(1, 2))
    call(backend, "/qdrant.Points/DeletePayload", delete)
    clear = ppb.ClearPayloadPoints(collection_name="docs", points=ids(4))
    call(backend, "/qdrant.Points/ClearPayload", clear)


def _local_payload_ops(client: QdrantClient) -> None:
    client.set_payload("docs", {"color": "red", "n": {"x": 1}}, points=[1, 2])
    client.set_payload("docs", {"deep": True}, points=[2], key="n")
    red = models.Filter(
        must=[models.FieldCondition(key="color", match=models.MatchValue(value="red"))]
    )
    client.set_payload("docs", {"tag": [1, 2]}, points=red)
    client.overwrite_payload("docs", {"only": "this"}, points=[3])
    client.delete_payload("docs", ["color", "n.x"], points=[1, 2])
    client.clear_payload("docs", points_selector=[4])


def test_payload_operations_match_qdrant_local_mode(backend):
    """Set (with key), overwrite, delete keys and clear give local mode's payloads."""
    initial = {1: {"a": 1}, 2: {"n": {"y": 2}}, 3: {"b": 3}, 4: {"c": 4}, 5: {"d": 5}}
    upsert(backend, *(point(i, payload=p) for i, p in initial.items()))
    _grpc_payload_ops(backend)

    client = QdrantClient(":memory:")
    client.create_collection(
        "docs", vectors_config=models.VectorParams(size=DIM, distance=models.Distance.DOT)
    )
    client.upsert(
        "docs",
        [models.PointStruct(id=i, vector=[1.0, 0, 0, 0], payload=p) for i, p in initial.items()],
    )
    _local_payload_ops(client)
    expected = {r.id: r.payload for r in client.retrieve("docs", list(initial))}
    client.close()
    assert payloads(backend) == expected


def test_payload_op_on_a_missing_id_writes_nothing(backend):
    """SetPayload naming a missing point is NotFound like Qdrant, and the others are untouched."""
    upsert(backend, point(1, payload={"a": 1}), point(2, payload={"a": 2}))
    request = ppb.SetPayloadPoints(collection_name="docs", points_selector=ids(1, 99, 2))
    request.payload["b"].integer_value = 1
    with pytest.raises(NotFound, match=r"^Not found: No point with id 99 found$"):
        call(backend, "/qdrant.Points/SetPayload", request)
    assert payloads(backend) == {1: {"a": 1}, 2: {"a": 2}}


def test_delete_points_by_ids_and_filter(backend):
    """Delete ignores missing ids; a filter deletes matches; an empty filter deletes all."""
    upsert(backend, *(point(i, payload={"k": "x" if i % 2 else "y"}) for i in range(6)))
    call(
        backend,
        "/qdrant.Points/Delete",
        ppb.DeletePoints(collection_name="docs", points=ids(0, 99)),
    )
    by_filter = ppb.DeletePoints(
        collection_name="docs", points=ppb.PointsSelector(filter=match("k", "x"))
    )
    call(backend, "/qdrant.Points/Delete", by_filter)
    assert sorted(payloads(backend)) == [2, 4]
    everything = ppb.DeletePoints(
        collection_name="docs", points=ppb.PointsSelector(filter=qc.Filter())
    )
    call(backend, "/qdrant.Points/Delete", everything)
    assert count(backend) == 0
    with pytest.raises(InvalidArgument, match="PointSelector is missing"):
        call(backend, "/qdrant.Points/Delete", ppb.DeletePoints(collection_name="docs"))


# ------------------------------------------------------------------ vectors


def test_update_and_delete_vectors(backend):
    """UpdateVectors replaces only the given vectors; DeleteVectors removes a named one."""
    upsert(backend, point(1, [1.0, 1.0, 1.0, 1.0]))
    update = ppb.UpdatePointVectors(collection_name="docs")
    pv = update.points.add()
    pv.id.num = 1
    pv.vectors.vectors.vectors["multi"].multi_dense.vectors.add().data.extend([5.0, 6.0])
    call(backend, "/qdrant.Points/UpdateVectors", update)
    vector = stored(backend)[1][1]
    assert vector[""] == [1.0, 1.0, 1.0, 1.0]
    assert vector["multi"] == [[5.0, 6.0]]
    delete = ppb.DeletePointVectors(
        collection_name="docs", points_selector=ids(1), vectors=ppb.VectorsSelector(names=["multi"])
    )
    call(backend, "/qdrant.Points/DeleteVectors", delete)
    assert "multi" not in stored(backend)[1][1]


def test_vector_updates_check_ids_names_and_dimensions(backend):
    """Missing point, unknown name or wrong dimension: refused, nothing changed."""
    upsert(backend, point(1, [1.0, 1.0, 1.0, 1.0]))
    before = stored(backend)
    update = ppb.UpdatePointVectors(collection_name="docs")
    for key in (1, 2):
        pv = update.points.add()
        pv.id.num = key
        pv.vectors.vector.dense.data.extend([9.0] * DIM)
    with pytest.raises(NotFound, match="No point with id 2 found"):
        call(backend, "/qdrant.Points/UpdateVectors", update)
    update.points[1].id.num = 1
    update.points[1].vectors.vector.dense.data.append(1.0)
    with pytest.raises(InvalidArgument, match="expected dim: 4, got 5"):
        call(backend, "/qdrant.Points/UpdateVectors", update)
    delete = ppb.DeletePointVectors(
        collection_name="docs", points_selector=ids(1), vectors=ppb.VectorsSelector(names=["nope"])
    )
    with pytest.raises(InvalidArgument, match="Not existing vector name error: nope"):
        call(backend, "/qdrant.Points/DeleteVectors", delete)
    assert stored(backend) == before


def test_create_and_delete_vector_names_persist(backend):
    """A new named vector accepts points, survives a restart, and can be deleted again."""
    request = ppb.CreateVectorNameRequest(
        collection_name="docs",
        vector_name="extra",
        dense_config=ppb.DenseVectorCreationConfig(size=3, distance=cpb.Cosine),
    )
    call(backend, "/qdrant.Points/CreateVectorName", request)
    call(backend, "/qdrant.Points/CreateVectorName", request)  # same config: idempotent
    p = point(1)
    p.vectors.vectors.vectors["extra"].dense.data.extend([1.0, 0.0, 0.0])
    upsert(backend, p)
    data_dir = backend.catalog.data_dir
    asyncio.run(backend.close())
    backend = EmbeddedBackend(data_dir)
    get = cpb.GetCollectionInfoRequest(collection_name="docs")
    params = call(backend, "/qdrant.Collections/Get", get).result.config.params
    assert params.vectors_config.params_map.map["extra"].size == 3
    conflict = ppb.CreateVectorNameRequest(
        collection_name="docs",
        vector_name="extra",
        dense_config=ppb.DenseVectorCreationConfig(size=5, distance=cpb.Cosine),
    )
    with pytest.raises(InvalidArgument, match="different configuration"):
        call(backend, "/qdrant.Points/CreateVectorName", conflict)
    delete = ppb.DeleteVectorNameRequest(collection_name="docs", vector_name="extra")
    call(backend, "/qdrant.Points/DeleteVectorName", delete)
    with pytest.raises(InvalidArgument, match="Not existing vector name error: extra"):
        upsert(backend, p)
    params = call(backend, "/qdrant.Collections/Get", get).result.config.params
    assert "extra" not in params.vectors_config.params_map.map
    asyncio.run(backend.close())


# ------------------------------------------------------------------ batches


def test_update_batch_applies_in_order(backend):
    """Later operations see earlier ones (an id upserted in the batch can get payload)."""
    batch = ppb.UpdateBatchPoints(collection_name="docs")
    batch.operations.add().upsert.points.extend([point(1), point(2)])
    set_payload = batch.operations.add().set_payload
    set_payload.points_selector.CopyFrom(ids(1))
    python_to_payload({"after": "upsert"}, set_payload.payload)
    batch.operations.add().delete_points.points.CopyFrom(ids(2))
    response = call(backend, "/qdrant.Points/UpdateBatch", batch)
    assert [r.status for r in response.result] == [ppb.Completed] * 3
    assert len({r.operation_id for r in response.result}) == 3
    assert payloads(backend) == {1: {"after": "upsert"}}


@pytest.mark.parametrize("bad", ["vector", "missing_id", "deleted_id"])
def test_a_bad_operation_anywhere_in_a_batch_writes_nothing(backend, bad):
    """A bad vector, a missing id or an id deleted earlier in the batch refuses the whole batch."""
    upsert(backend, point(1, payload={"v": 1}))
    batch = ppb.UpdateBatchPoints(collection_name="docs")
    batch.operations.add().upsert.points.append(point(2, payload={"v": 2}))
    batch.operations.add().clear_payload.points.CopyFrom(ids(1))
    if bad == "vector":
        batch.operations.add().upsert.points.append(point(3, [1.0]))
    elif bad == "missing_id":
        batch.operations.add().clear_payload.points.CopyFrom(ids(42))
    else:
        batch.operations.add().delete_points.points.CopyFrom(ids(2))
        batch.operations.add().clear_payload.points.CopyFrom(ids(2))
    with pytest.raises((InvalidArgument, NotFound)):
        call(backend, "/qdrant.Points/UpdateBatch", batch)
    assert payloads(backend) == {1: {"v": 1}}


# ------------------------------------------------------------------ payload indexes


def test_field_indexes_show_in_collection_info(backend):
    """CreateFieldIndex with a type or params appears in payload_schema; delete removes it."""
    upsert(backend, point(1, payload={"n": 1, "t": "hello world"}))
    call(
        backend,
        "/qdrant.Points/CreateFieldIndex",
        ppb.CreateFieldIndexCollection(
            collection_name="docs", field_name="n", field_type=ppb.FieldTypeInteger
        ),
    )
    text = cpb.PayloadIndexParams(
        text_index_params=cpb.TextIndexParams(
            tokenizer=cpb.Word,
            lowercase=True,
            stopwords=cpb.StopwordsSet(languages=["english"]),
            stemmer=cpb.StemmingAlgorithm(snowball=cpb.SnowballParams(language="english")),
        )
    )
    call(
        backend,
        "/qdrant.Points/CreateFieldIndex",
        ppb.CreateFieldIndexCollection(
            collection_name="docs",
            field_name="t",
            field_type=ppb.FieldTypeText,
            field_index_params=text,
        ),
    )
    get = cpb.GetCollectionInfoRequest(collection_name="docs")
    schema = call(backend, "/qdrant.Collections/Get", get).result.payload_schema
    assert (schema["n"].data_type, schema["n"].points) == (cpb.Integer, 1)
    assert schema["t"].data_type == cpb.Text
    assert schema["t"].params.text_index_params.tokenizer == cpb.Word
    assert schema["t"].params.text_index_params.lowercase
    assert list(schema["t"].params.text_index_params.stopwords.languages) == ["english"]
    assert schema["t"].params.text_index_params.stemmer.snowball.language == "english"
    call(
        backend,
        "/qdrant.Points/DeleteFieldIndex",
        ppb.DeleteFieldIndexCollection(collection_name="docs", field_name="n"),
    )
    assert sorted(call(backend, "/qdrant.Collections/Get", get).result.payload_schema) == ["t"]


def test_field_index_type_and_params_must_agree(backend):
    """Mismatched type/params is InvalidArgument; no type at all is Unimplemented (inference)."""
    mismatch = ppb.CreateFieldIndexCollection(
        collection_name="docs",
        field_name="n",
        field_type=ppb.FieldTypeKeyword,
        field_index_params=cpb.PayloadIndexParams(integer_index_params=cpb.IntegerIndexParams()),
    )
    with pytest.raises(InvalidArgument, match="do not match"):
        call(backend, "/qdrant.Points/CreateFieldIndex", mismatch)
    untyped = ppb.CreateFieldIndexCollection(collection_name="docs", field_name="n")
    with pytest.raises(Unimplemented, match="field_type"):
        call(backend, "/qdrant.Points/CreateFieldIndex", untyped)


def test_payload_values_round_trip_types(backend):
    """Nested objects, lists, null, bools, ints and floats are stored as given."""
    payload = {"o": {"l": [1, 2.5, "s", None, True]}, "z": None, "f": 1.0}
    upsert(backend, point(1, payload=payload))
    assert payloads(backend)[1] == payload
    assert payload_to_python(point(1, payload=payload).payload) == payload


def test_an_upsert_given_its_read_points_keeps_the_payload_added_after_the_read(
    tmp_path: Path,
) -> None:
    """The gateway hands the backend the points it read from an upsert's bytes (`packed`)
    before its Tag filter added payload entries: vectors and ids come from that read,
    payloads from the request as it is sent, so the added entries are stored."""
    opened = EmbeddedBackend(tmp_path / "plain")
    params = cpb.VectorParams(size=DIM, distance=cpb.Dot)
    create = cpb.CreateCollection(
        collection_name="plain", vectors_config=cpb.VectorsConfig(params=params)
    )
    call(opened, "/qdrant.Collections/Create", create)
    request = ppb.UpsertPoints(collection_name="plain")
    for number, vector in ((1, [1.0, 0.0, 0.0, 0.0]), (2, [0.0, 0.5, 0.0, 0.0])):
        sent = request.points.add()
        sent.id.num = number
        sent.vectors.vector.dense.data.extend(vector)  # the plain form the wire read takes
    request.points[0].payload["a"].integer_value = 1
    packed = read_upsert(request)
    assert packed.matrix(DIM) is not None
    for sent in request.points:
        sent.payload["tag"].string_value = "v1"
    # Not something the policy does; here it shows the vectors are taken from the read.
    request.points[1].vectors.vector.dense.data[1] = 9.0
    asyncio.run(opened.handle("/qdrant.Points/Upsert", request, packed=packed))
    got = call(
        opened,
        "/qdrant.Points/Get",
        ppb.GetPoints(
            collection_name="plain",
            ids=[qc.PointId(num=1), qc.PointId(num=2)],
            with_payload=ppb.WithPayloadSelector(enable=True),
            with_vectors=ppb.WithVectorsSelector(enable=True),
        ),
    ).result
    asyncio.run(opened.close())
    by_id = {p.id.num: p for p in got}
    assert payload_to_python(by_id[1].payload) == {"a": 1, "tag": "v1"}
    assert payload_to_python(by_id[2].payload) == {"tag": "v1"}
    assert list(by_id[2].vectors.vector.dense.data) == [0.0, 0.5, 0.0, 0.0]
