"""An upsert's points read from its wire bytes match the messages, and decline what is not plain.

Also the byte-level copies of the backfill: a read point as PointStruct bytes (server) and
an upsert put together from those bytes and a float matrix (client).
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from qdrant_client.grpc import points_pb2 as ppb

from proxy.config import TagConfig
from proxy.envelope import Envelope
from proxy.errors import InvalidArgument
from proxy.filters.route import Route
from proxy.filters.tag import Tag
from proxy.filters.validate import Validate
from proxy.frontend.ops import OPS
from proxy.identity import Identity
from proxy.migrate_backfill import _Writer
from proxy.registry import Partition, VectorSpec
from proxy.wire_points import PointCopier, read_upsert

DIM = 8
PARTITION = Partition(
    physical="vg__docs__m-1__0",
    logical="docs",
    binding={"": Identity("m", "1")},
    vectors={"": VectorSpec(DIM, "Cosine")},
    created="2026-01-01T00:00:00",
)
UPSERT = OPS["/qdrant.Points/Upsert"]


def _upsert(count: int = 5, dim: int = DIM) -> tuple[ppb.UpsertPoints, np.ndarray]:
    rows = np.random.default_rng(count).standard_normal((count, dim)).astype(np.float32)
    request = ppb.UpsertPoints(collection_name="docs", wait=True)
    for n, row in enumerate(rows):
        point = request.points.add()
        point.id.num = 10 + n
        point.vectors.vector.dense.data.extend(row.tolist())
        point.payload["n"].integer_value = n
        point.payload["text"].string_value = f"passage {n}"
    return request, rows


def test_plain_upsert_reads_as_one_matrix_with_ids_and_keys():
    """Every vector, id and payload key comes out of one parse, equal to the messages."""
    request, rows = _upsert()
    packed = read_upsert(request)
    assert packed.unnamed_dense
    assert packed.count == 5
    np.testing.assert_array_equal(packed.matrix(DIM), rows)
    assert packed.matrix(DIM - 1) is None  # another dimension: declined, not misread
    assert packed.numeric_ids() == [10, 11, 12, 13, 14]
    assert packed.keys == {b"n", b"text"}


def _named(point: ppb.PointStruct) -> None:
    point.vectors.vectors.vectors["other"].dense.data.extend([1.0] * DIM)


def _sparse(point: ppb.PointStruct) -> None:
    point.vectors.vector.sparse.indices.extend([1, 2])
    point.vectors.vector.sparse.values.extend([0.5, 0.5])


def _legacy_extra(point: ppb.PointStruct) -> None:
    point.vectors.vector.data.append(1.0)  # the deprecated flat field beside `dense`


def _no_vectors(point: ppb.PointStruct) -> None:
    point.ClearField("vectors")


def _multi(point: ppb.PointStruct) -> None:
    point.vectors.vector.multi_dense.vectors.add().data.extend([1.0] * DIM)


def _empty_dense(point: ppb.PointStruct) -> None:
    point.vectors.vector.dense.ClearField("data")
    point.vectors.vector.dense.SetInParent()


@pytest.mark.parametrize(
    "spoil", [_named, _sparse, _legacy_extra, _no_vectors, _multi, _empty_dense]
)
def test_any_point_that_is_not_plain_dense_declines_the_fast_path(spoil):
    """One odd point among plain ones is noticed: the caller then checks point by point."""
    request, _ = _upsert()
    spoil(request.points[3])
    packed = read_upsert(request)
    assert not packed.unnamed_dense
    assert packed.matrix(DIM) is None


def test_one_vector_of_another_size_declines_the_matrix():
    """Equal headers at every row are what prove the sizes; one short vector breaks them."""
    request, _ = _upsert()
    del request.points[2].vectors.vector.dense.data[-1]
    assert read_upsert(request).matrix(DIM) is None


def test_uuid_or_missing_ids_are_not_read_as_numbers():
    """Numeric ids only when every point has one."""
    request, _ = _upsert()
    request.points[1].id.uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
    assert read_upsert(request).numeric_ids() is None
    request.points[1].ClearField("id")
    assert read_upsert(request).numeric_ids() is None


def _chain(request: ppb.UpsertPoints) -> Envelope:
    """Route's read, Validate and Tag on an upsert already routed to PARTITION."""
    env = Envelope(op=UPSERT, request=request, metadata={})
    Route._names_and_vectors(Route(None), env)  # type: ignore[arg-type]
    env.partition = PARTITION
    Validate().on_request(env)
    Tag(TagConfig()).on_request(env)
    return env


def test_fast_path_tags_every_point_and_keeps_everything_else():
    """The tags merged from the prebuilt fragment equal the per-point ones, nothing lost."""
    request, rows = _upsert()
    env = _chain(request)
    assert env.packed is not None
    assert env.carries_vectors
    assert env.points == 5
    for n, point in enumerate(env.request.points):
        assert point.payload["embedding_model"].string_value == "m"
        assert point.payload["embedding_version"].string_value == "1"
        assert point.payload["n"].integer_value == n
        assert list(point.vectors.vector.dense.data) == rows[n].tolist()
    assert env.request.collection_name == "docs"
    assert env.request.wait


def test_forged_and_matching_tags_take_the_checked_path():
    """A tag key anywhere in the request: the per-point guard runs and words the refusal."""
    request, _ = _upsert()
    request.points[4].payload["embedding_version"].string_value = "1"  # matches: accepted
    env = _chain(request)
    assert env.request.points[4].payload["embedding_model"].string_value == "m"
    request, _ = _upsert()
    request.points[2].payload["embedding_version"].string_value = "2"
    with pytest.raises(InvalidArgument, match=r"points\[2\]: payload key 'embedding_version'"):
        _chain(request)


def test_non_finite_and_wrong_size_vectors_are_still_refused_by_name():
    """The fast path declines; the general check names the point and the problem."""
    request, _ = _upsert()
    request.points[3].vectors.vector.dense.data[5] = float("nan")
    with pytest.raises(InvalidArgument, match=r"points\[3\] \(id 13\).*NaN"):
        _chain(request)
    request, _ = _upsert()
    request.points[1].vectors.vector.dense.data.append(0.0)
    with pytest.raises(InvalidArgument, match=r"points\[1\].*9 dimensions"):
        _chain(request)


def test_a_read_point_becomes_point_struct_bytes_without_the_dropped_keys():
    """Id and payload (nested values too) copied as bytes; the tag keys left out."""
    read = ppb.RetrievedPoint()
    read.id.uuid = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
    read.payload["embedding_model"].string_value = "m"
    read.payload["embedding_version"].string_value = "1"
    read.payload["text"].string_value = "hello"
    read.payload["meta"].struct_value.fields["embedding_model"].integer_value = 3  # nested
    read.payload["tags"].list_value.values.add().string_value = "x"
    struct = ppb.PointStruct.FromString(PointCopier(("embedding_model", "embedding_version"))(read))
    assert struct.id == read.id
    assert sorted(struct.payload) == ["meta", "tags", "text"]
    for key in struct.payload:
        assert struct.payload[key] == read.payload[key]
    assert not struct.HasField("vectors")


@pytest.mark.parametrize("dim", [1, 3, 31, 32, 384, 4096, 40_000])
def test_backfill_upsert_bytes_parse_as_the_intended_request(dim):
    """Points from struct bytes plus matrix rows: ids, payloads, exact float32 vectors."""
    rows = np.random.default_rng(dim).standard_normal((3, dim)).astype(np.float32)
    structs = []
    for n in range(3):
        point = ppb.PointStruct()
        point.id.num = n
        point.payload["text"].string_value = f"t{n}"
        structs.append(point.SerializeToString())
    with grpc.insecure_channel("127.0.0.1:1") as channel:  # never connects
        writer = _Writer(channel, "docs", "m@2", None, 5.0)
        request = ppb.UpsertPoints.FromString(writer.request(structs, rows))
    assert request.collection_name == "docs"
    assert request.wait
    assert request.update_mode == ppb.InsertOnly
    for n, point in enumerate(request.points):
        assert point.id.num == n
        assert point.payload["text"].string_value == f"t{n}"
        assert point.vectors.vector.WhichOneof("vector") == "dense"
        np.testing.assert_array_equal(
            np.array(point.vectors.vector.dense.data, np.float32), rows[n]
        )
