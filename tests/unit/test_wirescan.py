"""The C scan of an upsert's received bytes (`proxy._wirescan`) against protobuf's own parse.

The scan may only answer when its reading is exactly what the parsed request holds, point
by point, however a client laid out its bytes: fields in any order, top-level fields
between points. Every other layout protobuf accepts (a vector split into blocks, a
field sent twice, unpacked floats, unknown fields) must be declined (None), since
protobuf merges those in ways a one-pass reading would get wrong. The last test feeds
it thousands of mutated requests and checks that rule on every one that parses.
"""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client.grpc import points_pb2 as ppb

from proxy._wirescan import dense_finite, scan_upsert
from proxy.wire import varint
from proxy.wire_points import read_upsert

DIM = 4


def field(number: int, wire_type: int, body: bytes) -> bytes:
    """One encoded field: key, then a length for wire type 2."""
    key = varint((number << 3) | wire_type)
    return key + (varint(len(body)) + body if wire_type == 2 else body)


def floats(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def dense(values: list[float]) -> bytes:
    """`Vectors { vector { dense { data: values } } }`, each level once, one block."""
    block = field(1, 2, floats(values))
    return field(1, 2, field(101, 2, block))


def entry(key: str, text: str) -> bytes:
    value = field(3, 2, text.encode())  # Value.string_value
    return field(1, 2, key.encode()) + field(2, 2, value)


def point(*parts: bytes) -> bytes:
    return field(3, 2, b"".join(parts))


def num_id(n: int) -> bytes:
    return field(1, 2, field(1, 0, varint(n)))


def vectors(body: bytes) -> bytes:
    return field(4, 2, body)


def payload(key: str, text: str) -> bytes:
    return field(3, 2, entry(key, text))


NAME = field(1, 2, b"docs")


def rows(count: int) -> list[list[float]]:
    return [[float(10 * i + j) for j in range(DIM)] for i in range(count)]


def agrees(raw: bytes) -> bool:
    """Whether the scan of `raw` is None or exactly what protobuf parses from it."""
    scan = scan_upsert(raw)
    if scan is None:
        return True
    request = ppb.UpsertPoints.FromString(raw)
    count, width, data, ids, keys, finite = scan
    if count != len(request.points):
        return False
    matrix = np.frombuffer(data, dtype="<f4").reshape(count, width)
    for row, message in zip(matrix, request.points, strict=True):
        if message.vectors.WhichOneof("vectors_options") != "vector":
            return False
        vector = message.vectors.vector
        if vector.WhichOneof("vector") != "dense" or len(vector.data) or len(vector.indices.data):
            return False
        if not np.array_equal(np.array(vector.dense.data, dtype=np.float32), row, equal_nan=True):
            return False
    if ids is not None and ids != [p.id.num for p in request.points]:
        return False
    if ids is not None and any(
        p.id.WhichOneof("point_id_options") != "num" for p in request.points
    ):
        return False
    if keys != {k.encode() for p in request.points for k in p.payload}:
        return False
    return finite == bool(np.isfinite(matrix).all())


def test_canonical_bytes_read_exactly_as_parsed():
    request = ppb.UpsertPoints(collection_name="docs", wait=True)
    for i, row in enumerate(rows(6)):
        p = request.points.add()
        p.id.num = 100 + i
        p.vectors.vector.dense.data.extend(row)
        p.payload["text"].string_value = f"passage {i}"
        p.payload["n"].integer_value = i
    raw = request.SerializeToString()
    count, width, data, ids, keys, finite = scan_upsert(raw)
    assert (count, width, ids, keys, finite) == (
        6,
        DIM,
        list(range(100, 106)),
        {b"text", b"n"},
        True,
    )
    np.testing.assert_array_equal(np.frombuffer(data, "<f4").reshape(6, DIM), rows(6))
    assert agrees(raw)
    # Route's read from the received bytes equals the read of the request serialised again.
    scanned, again = read_upsert(request, raw), read_upsert(request)
    np.testing.assert_array_equal(scanned.matrix(DIM), again.matrix(DIM))
    assert scanned.numeric_ids() == again.numeric_ids()
    assert scanned.keys == again.keys
    assert scanned.finite(DIM)
    assert again.finite(DIM)


def test_any_field_order_and_top_level_fields_between_points_are_read():
    r = rows(3)
    raw = (
        point(vectors(dense(r[0])), payload("a", "x"), num_id(7))
        + NAME
        + point(payload("b", "y"), num_id(8), vectors(dense(r[1])))
        + field(2, 0, varint(1))  # wait = true, between points
        + point(num_id(9), vectors(dense(r[2])))
    )
    scan = scan_upsert(raw)
    assert scan is not None
    assert scan[3] == [7, 8, 9]
    assert scan[4] == {b"a", b"b"}
    assert agrees(raw)


def test_uuid_ids_leave_ids_to_the_parsed_request():
    uuid = field(1, 2, field(2, 2, b"5c56c793-69f3-4fbf-87e6-c4bf54c28c26"))
    raw = (
        NAME
        + point(uuid, vectors(dense(rows(1)[0])))
        + point(num_id(3), vectors(dense(rows(2)[1])))
    )
    scan = scan_upsert(raw)
    assert scan is not None
    assert scan[3] is None
    assert agrees(raw)


def test_a_vector_moved_from_one_point_to_another_is_declined():
    """Point 0 sends two blocks (protobuf concatenates them: 8 floats), point 1 none:
    read block by block, that would pair point 0's second block with point 1."""
    r = rows(2)
    two_blocks = field(1, 2, field(101, 2, field(1, 2, floats(r[0])) + field(1, 2, floats(r[1]))))
    raw = point(num_id(1), vectors(two_blocks)) + point(num_id(2), vectors(field(1, 2, b"")))
    assert scan_upsert(raw) is None
    # The same with the second block in a second `vectors` field of point 0.
    raw = point(num_id(1), vectors(dense(r[0])), vectors(dense(r[1]))) + point(num_id(2))
    assert scan_upsert(raw) is None


def test_layouts_protobuf_merges_are_declined():
    r = rows(1)[0]
    cases = {
        "split block": field(
            1, 2, field(101, 2, field(1, 2, floats(r[:2])) + field(1, 2, floats(r[2:])))
        ),
        "unpacked floats": field(
            1, 2, field(101, 2, b"".join(field(1, 5, floats([v])) for v in r))
        ),
        "dense twice": field(1, 2, field(101, 2, field(1, 2, floats(r))) + field(101, 2, b"")),
        "legacy data beside dense": field(
            1, 2, field(1, 2, floats(r)) + field(101, 2, field(1, 2, floats(r)))
        ),
        "named vectors": field(2, 2, b""),
        "sparse": field(1, 2, field(102, 2, b"")),
        "empty block": field(1, 2, field(101, 2, field(1, 2, b""))),
    }
    for name, body in cases.items():
        raw = NAME + point(num_id(1), vectors(body))
        assert scan_upsert(raw) is None, name
        assert agrees(raw), name
    for name, raw in {
        "id twice": point(num_id(1), num_id(2), vectors(dense(r))),
        "empty id": point(field(1, 2, b""), vectors(dense(r))),
        "no id": point(vectors(dense(r))),
        "no vectors": point(num_id(1)),
        "unknown point field": point(num_id(1), vectors(dense(r)), field(9, 0, b"\x01")),
        "entry without key": point(num_id(1), vectors(dense(r)), field(3, 2, field(2, 2, b""))),
        "entry with two keys": point(
            num_id(1), vectors(dense(r)), field(3, 2, field(1, 2, b"a") + field(1, 2, b"b"))
        ),
        "points as a varint": field(3, 0, b"\x01"),
        "two widths": point(num_id(1), vectors(dense(r))) + point(num_id(2), vectors(dense(r + r))),
        "truncated": (NAME + point(num_id(1), vectors(dense(r))))[:-3],
        "no points": NAME,
    }.items():
        assert scan_upsert(raw) is None, name


def test_nan_and_infinity_are_reported():
    for bad in (float("nan"), float("inf"), float("-inf")):
        raw = point(num_id(1), vectors(dense([0.0, bad, 1.0, 2.0])))
        scan = scan_upsert(raw)
        assert scan is not None
        assert scan[5] is False
    assert scan_upsert(point(num_id(1), vectors(dense([0.0, 1e38, -1e-38, 0.0]))))[5] is True


def _canonical_requests() -> list[bytes]:
    out = []
    for count in (1, 3):
        request = ppb.UpsertPoints(collection_name="c")
        for i, row in enumerate(rows(count)):
            p = request.points.add()
            p.id.num = i
            p.vectors.vector.dense.data.extend(row)
            p.payload["k"].string_value = "v"
        out.append(request.SerializeToString())
    return out


@settings(max_examples=3000, deadline=None, database=None)
@given(
    base=st.sampled_from(_canonical_requests()),
    edits=st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 255),
            st.sampled_from(["set", "insert", "delete"]),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_requests_are_read_exactly_or_declined(base, edits):
    """Random byte edits of real requests: whenever protobuf parses the result, the scan
    either declines it or reads exactly what protobuf parsed; it never crashes."""
    raw = bytearray(base)
    for offset, byte, how in edits:
        at = offset % (len(raw) + 1)
        if how == "insert":
            raw[at:at] = bytes([byte])
        elif at < len(raw):
            if how == "set":
                raw[at] = byte
            else:
                del raw[at]
    data = bytes(raw)
    try:
        ppb.UpsertPoints.FromString(data)
    except Exception:  # not a message: gRPC's parse refuses it before any scan
        scan_upsert(data)  # must not crash either
        return
    assert agrees(data)


def _dense(values: list[float]) -> bytes:
    return ppb.DenseVector(data=values).SerializeToString()


@given(
    st.lists(
        st.floats(width=32, allow_nan=True, allow_infinity=True)
        | st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0]),
        min_size=1,
        max_size=70,
    )
)
@settings(max_examples=300, deadline=None)
def test_dense_finite_agrees_with_numpy(values: list[float]) -> None:
    """A query vector's bytes: finite exactly when numpy says every value is."""
    expected = bool(np.isfinite(np.array(values, dtype=np.float32)).all())
    assert dense_finite(_dense(values), len(values)) is expected


def test_dense_finite_declines_other_layouts() -> None:
    """None (the caller sums the parsed values) unless one packed block of `size` floats."""
    packed = _dense([1.0, 2.0, 3.0])
    unpacked = b"".join(b"\x0d" + struct.pack("<f", v) for v in (1.0, 2.0, 3.0))
    assert dense_finite(packed, 3) is True
    for raw, size in (
        (packed, 2),  # another length than the partition's
        (packed, 4),
        (b"", 3),
        (unpacked, 3),
        (packed[:-1], 3),  # cut short
        (packed + b"\x10\x01", 3),  # another field after the block
        (_dense([1.0]) + _dense([2.0, 3.0]), 3),  # a split block
    ):
        assert dense_finite(raw, size) is None, (raw, size)
