"""Backfill a migration: embed the source points the target version lacks, and write them.

`run_backfill` streams the migration's backlog (source points with no target point of
the same id yet), calls the caller's `embed` on each batch of texts, and upserts the
vectors with the same ids and payloads under the target identity (`x-embedding-model`).
The backlog only lists points still missing, so running it again after an interruption
embeds exactly what was not written yet: nothing twice, nothing skipped.

    stats = run_backfill("127.0.0.1:6334", "adm", "docs", model.encode, text_field="text")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt
from qdrant_client import grpc as qgrpc
from qdrant_client.conversions.conversion import payload_to_grpc

from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.wire import varint

Embed = Callable[[list[str]], Sequence[Sequence[float]]]
Progress = Callable[[int, int], None]

#: Seconds allowed for each admin call and each upsert (the ledger walks every source id).
DEFAULT_TIMEOUT = 300.0


class BackfillError(Exception):
    """A backfill stopped: a refused RPC, a point without text, or a bad embedding.

    `code` is the gRPC status when vecgate refused or could not be reached, else None.
    Points written before the error stay written; running again resumes after them.
    """

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BackfillStats:
    """What one run did."""

    collection: str
    identity: str  # the target version written, e.g. "minilm@2"
    total: int  # points missing from the target when the run started
    points: int  # points embedded and written by this run
    batches: int  # calls of `embed`
    scanned: int  # source points the backlog stream looked at
    seconds: float

    @property
    def rate(self) -> float:
        """Points written per second."""
        return self.points / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class _Batch:
    """Backlog points ready to embed: ids, each point's PointStruct bytes, the texts."""

    ids: list[str]
    points: list[bytes]  # serialised qdrant PointStruct: id and payload, no vectors
    texts: list[str]


def run_backfill(  # noqa: PLR0917 - the positional signature callers already use
    target: str,
    admin_key: str | None,
    collection: str,
    embed: Embed,
    text_field: str,
    batch_size: int = 64,
    progress: Progress | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> BackfillStats:
    """Embed and write every backlog point of `collection`'s migration; see the module doc.

    `target` is vecgate's gRPC address (host:port), `admin_key` an admin-role key (also
    sent with the upserts). `embed(texts)` returns one vector per text, in order;
    `progress(done, total)` is called at the start and after each batch is written
    (`total`: points missing when the run started). While the next batch is embedded,
    the previous one is being written (one batch in flight).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    with grpc.insecure_channel(target) as channel:
        admin = _Admin(channel, admin_key, timeout)
        view = admin.migration(collection)
        identity, total = view.target, int(view.ledger.missing)
        _report(progress, 0, total)
        writer = _Writer(channel, collection, identity, admin_key, timeout)
        done = batches = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-upsert") as pool:
            pending: Future[int] | None = None
            for batch in _batches(admin.backlog(collection, batch_size), text_field, batch_size):
                request = writer.request(batch.points, _embed(embed, batch))
                batches += 1
                if pending is not None:
                    done += pending.result()
                    _report(progress, done, total)
                pending = pool.submit(writer.upsert, request, len(batch.ids))
            if pending is not None:
                done += pending.result()
                _report(progress, done, total)
    return BackfillStats(
        collection=collection,
        identity=identity,
        total=total,
        points=done,
        batches=batches,
        scanned=admin.scanned,
        seconds=time.monotonic() - started,
    )


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _rpc_error(what: str, error: grpc.RpcError) -> BackfillError:
    """A gRPC error as a one-line `BackfillError` keeping its status code."""
    code_of, details_of = getattr(error, "code", None), getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    details = details_of() if callable(details_of) else None
    status = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    return BackfillError(f"{status.name}: {what}: {details or error}", status)


class _Admin:
    """The two admin calls a backfill needs: the migration, and its backlog stream."""

    def __init__(self, channel: grpc.Channel, admin_key: str | None, timeout: float) -> None:
        self._stub = admin_pb2_grpc.AdminStub(channel)  # type: ignore[no-untyped-call]
        self._metadata = (("api-key", admin_key),) if admin_key else ()
        self._timeout = timeout
        self.scanned = 0

    def migration(self, collection: str) -> Any:
        """The collection's migration with its ledger (target identity, missing count)."""
        request = admin_pb2.GetMigrationRequest(collection=collection, ledger=True)
        try:
            return self._stub.GetMigration(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise _rpc_error(f"GetMigration `{collection}`", error) from None

    def backlog(self, collection: str, page_size: int) -> Iterator[admin_pb2.BacklogPoint]:
        """Every backlog point, page after page, in one stream (no deadline: it is long)."""
        request = admin_pb2.BacklogRequest(
            collection=collection, page_size=page_size, as_points=True
        )
        stream = self._stub.StreamBacklog(request, metadata=self._metadata)
        try:
            for page in stream:
                self.scanned = int(page.scanned)
                yield from page.points
        except grpc.RpcError as error:
            raise _rpc_error(f"StreamBacklog `{collection}`", error) from None
        finally:
            stream.cancel()


def _batches(
    points: Iterator[admin_pb2.BacklogPoint], text_field: str, size: int
) -> Iterator[_Batch]:
    """Backlog points in batches of `size`; an id the stream repeats is not written twice."""
    seen: set[str] = set()
    batch = _Batch([], [], [])
    for point in points:
        if point.id in seen:
            continue
        seen.add(point.id)
        struct, text = _struct_and_text(point, text_field)
        batch.ids.append(point.id)
        batch.points.append(struct)
        batch.texts.append(text)
        if len(batch.ids) == size:
            yield batch
            batch = _Batch([], [], [])
    if batch.ids:
        yield batch


#: A payload value's kind as the Python type a JSON reader would give (for messages).
_KIND_TYPES = {
    "integer_value": "int",
    "double_value": "float",
    "bool_value": "bool",
    "struct_value": "dict",
    "list_value": "list",
    "null_value": "NoneType",
}


def _struct_and_text(point: admin_pb2.BacklogPoint, field: str) -> tuple[bytes, str]:
    """The point as PointStruct bytes (id and payload, copied as sent) and its text.

    vecgate sends `point` when asked (`as_points`); a gateway that predates it sends
    `payload_json`, from which the struct is built.
    """
    if not point.point:
        payload = _payload(point)
        struct = qgrpc.PointStruct(id=_point_id(point.id), payload=payload_to_grpc(payload))
        return struct.SerializeToString(), _text(point.id, payload, field)
    values = qgrpc.PointStruct.FromString(point.point).payload
    if field not in values:
        keys = ", ".join(sorted(values)) or "none"
        raise BackfillError(
            f"point {point.id} has no payload field {field!r} to embed (its fields: {keys})"
        )
    value = values[field]
    kind = value.WhichOneof("kind")
    if kind != "string_value":
        raise BackfillError(
            f"point {point.id}: payload field {field!r} is "
            f"{_KIND_TYPES.get(kind or '', 'NoneType')}, not a string"
        )
    return point.point, value.string_value


def _payload(point: admin_pb2.BacklogPoint) -> dict[str, Any]:
    """The point's payload, parsed from the JSON vecgate sent."""
    if not point.payload_json:
        return {}
    try:
        payload = json.loads(point.payload_json)
    except json.JSONDecodeError as error:
        raise BackfillError(f"point {point.id}: payload is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise BackfillError(f"point {point.id}: payload is not a JSON object")
    return payload


def _text(point_id: str, payload: dict[str, Any], field: str) -> str:
    """The text to embed: the payload's `field`, a string."""
    if field not in payload:
        keys = ", ".join(sorted(payload)) or "none"
        raise BackfillError(
            f"point {point_id} has no payload field {field!r} to embed (its fields: {keys})"
        )
    text = payload[field]
    if not isinstance(text, str):
        raise BackfillError(
            f"point {point_id}: payload field {field!r} is {type(text).__name__}, not a string"
        )
    return text


def _embed(embed: Embed, batch: _Batch) -> npt.NDArray[np.float32]:
    """Call the caller's function; it must return one vector of floats per text, in order.

    Lists or numpy alike become one float32 matrix, whose rows go on the wire as they
    are (the packed encoding of `DenseVector.data` is little-endian float32).
    """
    vectors = embed(batch.texts)
    if len(vectors) != len(batch.texts):
        raise BackfillError(
            f"embed returned {len(vectors)} vectors for {len(batch.texts)} texts "
            f"(points {batch.ids[0]}..{batch.ids[-1]})"
        )
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise BackfillError(
            f"points {batch.ids[0]}..{batch.ids[-1]}: embed returned no vectors of floats "
            f"of one size: {error}"
        ) from None
    if matrix.ndim != 2 or not matrix.shape[1]:
        raise BackfillError(
            f"points {batch.ids[0]}..{batch.ids[-1]}: embed returned no vectors of floats "
            f"(an array of shape {matrix.shape})"
        )
    return np.ascontiguousarray(matrix, dtype="<f4")


def _point_id(text: str) -> Any:
    """A backlog id (decimal integer or UUID text) as a Qdrant PointId."""
    return (
        qgrpc.PointId(num=int(text))
        if text.isascii() and text.isdigit()
        else qgrpc.PointId(uuid=text)
    )


def _field(number: int, body: bytes) -> bytes:
    """One length-delimited protobuf field (field numbers below 16: a one-byte tag)."""
    return bytes([number << 3 | 2]) + varint(len(body)) + body


def _vector_prefix(dim: int) -> bytes:
    """The bytes of `PointStruct.vectors` = Vectors{vector: Vector{dense: {data}}} up to
    the `dim` floats themselves, which follow it."""
    data = 4 * dim
    dense = 1 + len(varint(data)) + data  # DenseVector{data = 1}
    vector = 2 + len(varint(dense)) + dense  # Vector{dense = 101}: a two-byte tag
    vectors = 1 + len(varint(vector)) + vector  # Vectors{vector = 1}
    return (
        b"\x22" + varint(vectors)  # PointStruct.vectors = 4
        + b"\x0a" + varint(vector)
        + b"\xaa\x06" + varint(dense)
        + b"\x0a" + varint(data)
    )  # fmt: skip


class _Writer:
    """Upserts under the target identity through vecgate's Qdrant front (raw gRPC).

    The request is put together as wire bytes: the backlog's PointStruct bytes of each
    point followed by its vector field, without building protobuf objects point by point.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        collection: str,
        identity: str,
        admin_key: str | None,
        timeout: float,
    ) -> None:
        self._call = channel.unary_unary(
            "/qdrant.Points/Upsert",
            request_serializer=None,  # the request is sent as the bytes built here
            response_deserializer=qgrpc.PointsOperationResponse.FromString,
        )
        # Insert-only: a point an application wrote under the target version after the
        # backlog listed it (dual-write) is newer than the backfill's, and is kept.
        self._head: bytes = qgrpc.UpsertPoints(
            collection_name=collection, wait=True, update_mode=qgrpc.InsertOnly
        ).SerializeToString()
        self._identity = identity
        headers = [("x-embedding-model", identity)]
        self._metadata = tuple(headers + ([("api-key", admin_key)] if admin_key else []))
        self._timeout = timeout
        self._prefixes: dict[int, bytes] = {}

    def request(self, points: list[bytes], vectors: npt.NDArray[np.float32]) -> bytes:
        """An `UpsertPoints` (insert-only, wait) of the points with these vectors, as bytes."""
        dim = int(vectors.shape[1])
        prefix = self._prefixes.get(dim)
        if prefix is None:
            prefix = self._prefixes[dim] = _vector_prefix(dim)
        fields = [
            _field(3, point + prefix + row)  # UpsertPoints.points = 3
            for point, row in zip(points, map(bytes, vectors), strict=True)
        ]
        return self._head + b"".join(fields)

    def upsert(self, request: bytes, count: int) -> int:
        """Write one batch and wait until it is applied; returns how many points."""
        try:
            self._call(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            what = f"upsert of {count} points under {self._identity}"
            raise _rpc_error(what, error) from None
        return count
