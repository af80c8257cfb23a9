"""The codec finds every query vector and written point; the tag filter rewrites in place."""

from __future__ import annotations

import pytest
from qdrant_client.grpc import points_pb2 as ppb

from proxy.config import TagConfig
from proxy.envelope import Envelope
from proxy.errors import InvalidArgument, Unimplemented
from proxy.filters.tag import Tag
from proxy.filters.validate import check_vectors
from proxy.frontend.ops import OPS
from proxy.frontend.walk import point_vectors, query_shape, written_points
from proxy.identity import Identity
from proxy.registry import Partition, VectorSpec

PARTITION = Partition(
    physical="vg__docs__m-1__0",
    logical="docs",
    binding={"": Identity("m", "1"), "sparse": Identity("m", "1")},
    vectors={"": VectorSpec(3, "Cosine"), "sparse": VectorSpec(None)},
    created="2026-01-01T00:00:00",
)


def _query_with_nested_prefetch() -> ppb.QueryPoints:
    request = ppb.QueryPoints(collection_name="docs")
    outer = request.prefetch.add(limit=10)
    inner = outer.prefetch.add(limit=20, using="sparse")
    inner.query.nearest.sparse.indices.extend([1, 5])
    inner.query.nearest.sparse.values.extend([0.5, 0.25])
    outer.query.recommend.positive.add().dense.data.extend([1.0, 0.0, 0.0])
    outer.query.recommend.negative.add().id.num = 7
    pair = request.query.discover.context.pairs.add()
    pair.positive.dense.data.extend([0.0, 1.0, 0.0])
    pair.negative.id.num = 3
    request.query.discover.target.dense.data.extend([0.0, 0.0, 1.0])
    return request


def test_query_shape_finds_vectors_in_nested_prefetches_and_examples():
    """Every raw vector of a Query (nested prefetch, recommend, discover) is found with its name."""
    shape = query_shape("Query", _query_with_nested_prefetch())
    found = sorted((v.name, v.where) for v in shape.vectors)
    assert found == [
        ("", "prefetch[0].query.recommend.positive[0]"),
        ("", "query.discover.pairs[0].positive"),
        ("", "query.discover.target"),
        ("sparse", "prefetch[0].prefetch[0].query"),
    ]
    assert shape.names == {"", "sparse"}


def test_batch_requests_expose_every_inner_search():
    """A SearchBatch's inner searches are each a query vector."""
    batch = ppb.SearchBatchPoints(collection_name="docs")
    for i in range(3):
        batch.search_points.add(collection_name="docs", vector=[float(i), 0.0, 1.0])
    shape = query_shape("SearchBatch", batch)
    assert [v.where for v in shape.vectors] == [f"search_points[{i}]." for i in range(3)]


def test_inference_inputs_are_refused_by_name():
    """A Document input (server-side inference) answers UNIMPLEMENTED naming it."""
    request = ppb.QueryPoints(collection_name="docs")
    request.query.nearest.document.text = "hello"
    with pytest.raises(Unimplemented, match="inference"):
        query_shape("Query", request)


def test_validate_names_the_point_and_field():
    """A wrong dimension or a NaN is INVALID_ARGUMENT naming where it was found."""
    upsert = ppb.UpsertPoints(collection_name="docs")
    good = upsert.points.add()
    good.id.num = 1
    good.vectors.vector.dense.data.extend([1.0, 0.0, 0.0])
    bad = upsert.points.add()
    bad.id.uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
    bad.vectors.vector.dense.data.extend([1.0, float("inf"), 0.0])
    points = list(written_points("Upsert", upsert))
    check_vectors(point_vectors(points[0][1], "points[0] (id 1)"), PARTITION)
    with pytest.raises(InvalidArgument) as excinfo:
        check_vectors(point_vectors(points[1][1], "points[1] (id 5c56…)"), PARTITION)
    assert "points[1]" in excinfo.value.message
    assert "NaN or infinite" in excinfo.value.message
    search = ppb.SearchPoints(collection_name="docs", vector=[1.0, 2.0])
    with pytest.raises(InvalidArgument, match=r"has 2 dimensions, but m@1 .* makes 3"):
        check_vectors(query_shape("Search", search).vectors, PARTITION)


def _envelope(method: str, request: object) -> Envelope:
    env = Envelope(OPS[method], request, {})
    env.partition = PARTITION
    return env


def test_tag_sets_tags_and_refuses_forgery():
    """Upserted points gain the tags; a point claiming another version is refused."""
    tag = Tag(TagConfig())
    upsert = ppb.UpsertPoints(collection_name="docs")
    upsert.points.add().id.num = 1
    tag.on_request(_envelope("/qdrant.Points/Upsert", upsert))
    payload = upsert.points[0].payload
    assert (payload["embedding_model"].string_value, payload["embedding_version"].string_value) == (
        "m",
        "1",
    )
    forged = ppb.UpsertPoints(collection_name="docs")
    forged.points.add().payload["embedding_version"].string_value = "2"
    with pytest.raises(InvalidArgument, match=r"forged|written by vecgate"):
        tag.on_request(_envelope("/qdrant.Points/Upsert", forged))


def test_clear_payload_becomes_an_overwrite_with_the_tags():
    """ClearPayload is rewritten into one OverwritePayload that keeps only the tags."""
    clear = ppb.ClearPayloadPoints(collection_name="docs", wait=True)
    clear.points.points.ids.add().num = 4
    env = _envelope("/qdrant.Points/ClearPayload", clear)
    Tag(TagConfig()).on_request(env)
    assert env.op.name == "ClearPayload"
    assert env.backend_op is not None
    assert env.backend_op.name == "OverwritePayload"
    assert env.request.wait is True
    assert dict(env.request.payload)["embedding_model"].string_value == "m"
    assert [i.num for i in env.request.points_selector.points.ids] == [4]


def test_update_vectors_becomes_a_batch_that_retags():
    """UpdateVectors becomes a batch (vectors, then tags) and its reply is unwrapped again."""
    update = ppb.UpdatePointVectors(collection_name="docs")
    point = update.points.add()
    point.id.num = 9
    point.vectors.vector.dense.data.extend([1.0, 0.0, 0.0])
    env = _envelope("/qdrant.Points/UpdateVectors", update)
    tag = Tag(TagConfig())
    tag.on_request(env)
    kinds = [op.WhichOneof("operation") for op in env.request.operations]
    assert kinds == ["update_vectors", "set_payload"]
    reply = ppb.UpdateBatchResponse(time=0.5)
    reply.result.add(operation_id=3, status=ppb.UpdateStatus.Completed)
    unwrapped = tag.on_response(env, reply)
    assert isinstance(unwrapped, ppb.PointsOperationResponse)
    assert unwrapped.result.operation_id == 3


@pytest.mark.parametrize("key", ["embedding_model", "embedding_version.x", "embedding_model[0]"])
def test_deleting_or_nesting_into_tags_is_refused(key):
    """DeletePayload of a tag key, or a nested set under one, is INVALID_ARGUMENT."""
    tag = Tag(TagConfig())
    delete = ppb.DeletePayloadPoints(collection_name="docs", keys=["colour", key])
    with pytest.raises(InvalidArgument):
        tag.on_request(_envelope("/qdrant.Points/DeletePayload", delete))
    nested = ppb.SetPayloadPoints(collection_name="docs", key=key)
    with pytest.raises(InvalidArgument):
        tag.on_request(_envelope("/qdrant.Points/SetPayload", nested))
