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
from qdrant_client import grpc as qgrpc
from qdrant_client.conversions.conversion import payload_to_grpc

from proxy.admin.generated import admin_pb2, admin_pb2_grpc

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
    """Backlog points ready to embed: ids, parsed payloads and the texts to embed."""

    ids: list[str]
    payloads: list[dict[str, Any]]
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
                points = _points(batch, _embed(embed, batch))
                batches += 1
                if pending is not None:
                    done += pending.result()
                    _report(progress, done, total)
                pending = pool.submit(writer.upsert, points)
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
        request = admin_pb2.BacklogRequest(collection=collection, page_size=page_size)
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
        payload = _payload(point)
        batch.ids.append(point.id)
        batch.payloads.append(payload)
        batch.texts.append(_text(point.id, payload, text_field))
        if len(batch.ids) == size:
            yield batch
            batch = _Batch([], [], [])
    if batch.ids:
        yield batch


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


def _embed(embed: Embed, batch: _Batch) -> Sequence[Sequence[float]]:
    """Call the caller's function; it must return one vector per text (lists or numpy)."""
    vectors: Sequence[Sequence[float]] = _plain(embed(batch.texts))
    if len(vectors) != len(batch.texts):
        raise BackfillError(
            f"embed returned {len(vectors)} vectors for {len(batch.texts)} texts "
            f"(points {batch.ids[0]}..{batch.ids[-1]})"
        )
    return vectors


def _plain(value: Any) -> Any:
    """A numpy array as Python lists: protobuf copies those ~6x faster than numpy scalars."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def _point_id(text: str) -> Any:
    """A backlog id (decimal integer or UUID text) as a Qdrant PointId."""
    return (
        qgrpc.PointId(num=int(text))
        if text.isascii() and text.isdigit()
        else qgrpc.PointId(uuid=text)
    )


def _points(batch: _Batch, vectors: Sequence[Sequence[float]]) -> list[Any]:
    """Qdrant points: the same id and payload, the new vector."""
    points = []
    for point_id, payload, vector in zip(batch.ids, batch.payloads, vectors, strict=True):
        try:
            dense = qgrpc.Vector(dense=qgrpc.DenseVector(data=_plain(vector)))
        except (TypeError, ValueError) as error:
            raise BackfillError(
                f"point {point_id}: embed returned no vector of floats: {error}"
            ) from None
        points.append(
            qgrpc.PointStruct(
                id=_point_id(point_id),
                vectors=qgrpc.Vectors(vector=dense),
                payload=payload_to_grpc(payload),
            )
        )
    return points


class _Writer:
    """Upserts under the target identity through vecgate's Qdrant front (raw gRPC)."""

    def __init__(
        self,
        channel: grpc.Channel,
        collection: str,
        identity: str,
        admin_key: str | None,
        timeout: float,
    ) -> None:
        self._stub = qgrpc.PointsStub(channel)
        self._collection = collection
        self._identity = identity
        headers = [("x-embedding-model", identity)]
        self._metadata = tuple(headers + ([("api-key", admin_key)] if admin_key else []))
        self._timeout = timeout

    def upsert(self, points: list[Any]) -> int:
        """Write one batch and wait until it is applied; returns how many points.

        Insert-only: a point an application wrote under the target version after the
        backlog listed it (dual-write) is newer than the backfill's, and is kept.
        """
        request = qgrpc.UpsertPoints(
            collection_name=self._collection,
            wait=True,
            points=points,
            update_mode=qgrpc.InsertOnly,
        )
        try:
            self._stub.Upsert(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            what = f"upsert of {len(points)} points under {self._identity}"
            raise _rpc_error(what, error) from None
        return len(points)
