"""A whole upsert's points read from its wire bytes in a few C-level calls, not point by point.

Two reads, one result (`PackedPoints`):

- The bytes as received, by the C scan `proxy._wirescan.scan_upsert`: one pass over
  the request that answers only when every point is plain (one numeric or uuid id,
  payload entries, one unnamed dense vector in one packed block, each field once).
  For that shape protobuf's own parse is fixed field by field, so the scan's vectors
  are the parsed request's, point by point (decision 49).
- Any other shape (or no received bytes): the parsed request serialised again and
  read by the merged parse below.

Protobuf merges every occurrence of a *singular* message field into one message, and
concatenates the repeated fields inside it. Parsing an `UpsertPoints`' bytes with
private message types that declare `points` (and, below it, `vectors`, `vector`,
`payload`) singular therefore gathers, in one parse, every point's dense vector
block and every payload key of the request into flat lists. No Python code runs
per point. The types read only what the fast paths need; every other field is
kept as an unknown field, which is how a point that is not a plain unnamed dense
vector is noticed (and the caller takes its slow path).

The bytes come from `SerializeToString` of the parsed request, so each oneof holds
at most one member and each singular field appears once: n dense blocks for n
points means one per point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, unknown_fields
from google.protobuf.message_factory import GetMessageClass

from proxy._wirescan import scan_upsert
from proxy.wire import Floats, varint

_BYTES = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_SCALARS = {"bytes": _BYTES, "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64}
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED

#: message name -> (field name, number, type: a message, "bytes" or "uint64", repeated)
_SCHEMA: dict[str, list[tuple[str, int, str, bool]]] = {
    "Upsert": [("points", 3, "Point", False)],  # UpsertPoints.points, merged
    "Point": [
        ("id", 1, "Id", False),
        ("payload", 3, "Entry", False),
        ("vectors", 4, "Vectors", False),
    ],
    "Id": [("num", 1, "uint64", True), ("uuid", 2, "bytes", True)],  # every point's id
    "Entry": [("key", 1, "bytes", True)],  # every payload key of every point
    "Vectors": [("vector", 1, "Vector", False)],  # Vectors.vector (unnamed), merged
    "Vector": [("dense", 101, "Dense", False)],  # Vector.dense, merged
    "Dense": [("data", 1, "bytes", True)],  # every point's packed floats, one block each
    # RetrievedPoint's id and payload entries, and a PointStruct made of the same bytes.
    "Retrieved": [("id", 1, "bytes", False), ("payload", 2, "bytes", True)],
    "Struct": [("id", 1, "bytes", False), ("payload", 3, "bytes", True)],
}


def _types() -> dict[str, Any]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="vecgate/wire_points.proto", package="vecgate.wire", syntax="proto3"
    )
    for name, fields in _SCHEMA.items():
        message = proto.message_type.add(name=name)
        for field, number, type_name, repeated in fields:
            spec = message.field.add(
                name=field, number=number, label=_REPEATED if repeated else _OPTIONAL
            )
            if type_name in _SCALARS:
                spec.type = _SCALARS[type_name]
            else:
                spec.type, spec.type_name = _MESSAGE, f".vecgate.wire.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {n: GetMessageClass(pool.FindMessageTypeByName(f"vecgate.wire.{n}")) for n in _SCHEMA}


_TYPES = _types()
#: What `scan_upsert` returns: count, floats per point, vectors, ids, payload keys, finite.
Scan = tuple[int, int, bytes, list[int] | None, frozenset[bytes], bool]
_UPSERT, _RETRIEVED, _STRUCT = _TYPES["Upsert"], _TYPES["Retrieved"], _TYPES["Struct"]


class PackedPoints:
    """What the wire says about an upsert's points: read from the bytes the client sent
    (`scan_upsert`, when every point is plain) or from the parsed request serialised
    again (this module's merged parse, for every other shape)."""

    __slots__ = ("_dense", "_finite", "_ids", "_matrix", "count", "keys", "tags")

    def __init__(self, count: int, keys: frozenset[bytes], dense: Any, ids: Any) -> None:
        self.count = count  # points in the request
        self.keys = keys  # every top-level payload key of every point
        # the merged `DenseVector` of all points (True when the scan read them), when
        # unnamed_dense; None otherwise
        self._dense = dense
        self._ids = ids  # the merged `PointId` of all points, or the scan's list of ints
        self._matrix: Floats | None = None
        self._finite: bool | None = None
        #: The tag payload entries the backend writes on every point (set by Tag for a
        #: backend with `writes_read_tags`; None: they are in the request's points).
        self.tags: dict[str, str] | None = None

    @classmethod
    def scanned(cls, scan: Scan) -> PackedPoints:
        """The points as `scan_upsert` read them from the received bytes."""
        count, floats, vectors, ids, keys, finite = scan
        packed = cls(count, keys, True, ids)
        packed._matrix = np.frombuffer(vectors, dtype="<f4").reshape(count, floats)
        packed._finite = finite
        return packed

    def numeric_ids(self) -> list[int] | None:
        """Every point's id when all are numbers (one per point), else None."""
        ids = self._ids
        if ids is None or isinstance(ids, list):
            return ids
        if len(ids.uuid) or len(ids.num) != self.count:
            return None
        return list(ids.num)

    @property
    def unnamed_dense(self) -> bool:
        """Whether every point carries one unnamed, non-empty dense vector and nothing
        else in `vectors` (no name, no sparse or multi part, no legacy field)."""
        return self._dense is not None

    def matrix(self, dim: int) -> Floats | None:
        """The vectors as rows of `dim` float32 (read once, then kept), or None.

        None unless `unnamed_dense` and every vector is exactly `dim` floats.
        """
        if self._dense is None:
            return None
        if self._matrix is None:
            self._matrix = self._read_matrix(dim)
        if self._matrix is None or self._matrix.shape[1] != dim:
            return None
        return self._matrix

    def finite(self, dim: int) -> bool:
        """Whether `matrix(dim)` exists and holds no NaN or infinity."""
        matrix = self.matrix(dim)
        if matrix is None:
            return False
        if self._finite is None:
            self._finite = bool(np.isfinite(matrix).all())
        return self._finite

    def _read_matrix(self, dim: int) -> Floats | None:
        """The merged parse's blocks as rows: each point's block is
        `0x0A <varint 4*dim> <floats>`, so equal headers at every row of the expected
        length prove the sizes."""
        header = b"\x0a" + varint(4 * dim)
        wire: bytes = self._dense.SerializeToString()
        if len(wire) != self.count * (len(header) + 4 * dim):
            return None
        layout = np.dtype([("h", f"V{len(header)}"), ("v", "<f4", (dim,))])
        rows = np.frombuffer(wire, dtype=layout)
        if not (rows["h"] == np.void(header)).all():
            return None
        matrix: Floats = rows["v"]
        return matrix


def read_upsert(request: Any, received: bytes | None = None) -> PackedPoints:
    """Read an `UpsertPoints`' payload keys and vector layout in one pass.

    `received`: the bytes the request was parsed from. When every point has the plain
    shape, the C scan reads them as they are; otherwise (or without them) the parsed
    request is serialised again and read by the merged parse (the module doc).
    """
    count = len(request.points)
    if received is not None:
        scanned = scan_upsert(received)
        if scanned is not None and scanned[0] == count:
            return PackedPoints.scanned(scanned)
    raw: bytes = request.SerializeToString()
    merged = _UPSERT.FromString(raw).points
    keys = frozenset(merged.payload.key)
    return PackedPoints(count, keys, _dense(merged, count), merged.id)


def _dense(merged: Any, count: int) -> Any:
    """The merged dense vector, if every point has exactly one plain unnamed dense vector."""
    vectors = merged.vectors
    vector = vectors.vector
    if any(len(unknown_fields.UnknownFieldSet(m)) for m in (vectors, vector, vector.dense)):
        return None  # named vectors, sparse / multi / legacy spellings, or an unknown field
    # A non-empty `data` is one packed block, so `count` blocks means one per point.
    if count == 0 or len(vector.dense.data) != count:
        return None
    return vector.dense


class PointCopier:
    """A read point (`RetrievedPoint`) as a serialised `PointStruct`: the same id and
    payload entries, minus the top-level keys `drop`, no vectors. Entries are moved as
    bytes (RetrievedPoint's field 2 becomes PointStruct's field 3), never converted."""

    def __init__(self, drop: tuple[str, ...]) -> None:
        self._prefixes = tuple(b"\x0a" + varint(len(k.encode())) + k.encode() for k in drop)

    def __call__(self, point: Any) -> bytes:
        """The `PointStruct` bytes of one `RetrievedPoint` message."""
        read = _RETRIEVED.FromString(point.SerializeToString())
        prefixes = self._prefixes
        kept = [entry for entry in read.payload if not entry.startswith(prefixes)]
        out: bytes = _STRUCT(id=read.id, payload=kept).SerializeToString()
        return out
