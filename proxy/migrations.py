"""A model upgrade as a schema migration of one logical collection.

    start -> (dual-write, backfill) -> verify -> cutover <-> rollback -> retire -> drop

- start: the target version's partition is created (or adopted); both versions
  accept writes; reads without identity stay on the source (still active).
- backfill: the ledger counts source points that have a target point of the same id;
  the backlog streams the ones that do not, with a resumable cursor.
- verify: golden query pairs answered by both versions; overlap and recall stored.
- cutover / rollback: one atomic backend alias switch of the logical name and every
  user alias, so every replica and every direct reader sees it at once.
- retire: the source partition becomes read-only; drop deletes it.

The migration record (state, history, last verify) is kept in the backend
(``vg__migrations``) and the routing-relevant part (which partition is active,
which is retired) in the backend aliases and partition metadata, like all state.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb

from adapters.base import Backend
from proxy.bridge.record import drop_bridges
from proxy.collection_ops import CollectionOps
from proxy.config import Config
from proxy.errors import FailedPrecondition, InvalidArgument, NotFound, Unimplemented
from proxy.identity import Identity
from proxy.models import ModelRegistry, check_distance
from proxy.registry import METADATA_KEY, LogicalCollection, Partition, Registry, VectorSpec
from proxy.store import RecordStore
from proxy.values import payload_to_python
from proxy.wire_points import PointCopier

STORE = "vg__migrations"
SCAN_PAGE = 1000
_DISTANCE_CODES = dict(cpb.Distance.items())


def now() -> str:
    """The current time, RFC 3339 in UTC."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class MigrationRecord:
    """One collection's migration: versions, state, history, last verify."""

    collection: str
    source: str
    target: str
    state: str  # migrating, cut_over, rolled_back, retired, dropped
    started: str  # RFC 3339 with microseconds: the rate is measured from it
    target_points_at_start: int = 0
    covered_at_start: int = 0
    history: list[dict[str, str]] = field(default_factory=list)
    last_verify: dict[str, Any] | None = None

    def event(self, step: str, by: str, detail: str) -> None:
        """Record one step."""
        self.history.append(
            {"at": now(), "collection": self.collection, "step": step, "by": by, "detail": detail}
        )


@dataclass(frozen=True)
class Ledger:
    """Backfill coverage of one migration."""

    source_points: int
    covered: int
    target_points: int
    rate_per_second: float

    @property
    def missing(self) -> int:
        """Source points without a target point of the same id."""
        return self.source_points - self.covered

    @property
    def percent(self) -> float:
        """Coverage in percent (100 when the source is empty)."""
        return 100.0 if not self.source_points else 100.0 * self.covered / self.source_points


class Migrations:
    """Runs migrations against the backend; every step is recorded."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        registry: Registry,
        models: ModelRegistry,
        catalog: CollectionOps,
    ) -> None:
        self.config = config
        self.backend = backend
        self.registry = registry
        self.models = models
        self.catalog = catalog
        self.store = RecordStore(backend, STORE)
        self.tag_keys = (config.tags.model_key, config.tags.version_key)
        self._readings: dict[str, tuple[float, int]] = {}  # collection -> (time, covered)

    # -- records ----------------------------------------------------------------------------

    async def records(self) -> dict[str, MigrationRecord]:
        """Every migration ever started, by collection."""
        return {
            record.collection: record
            for record in (MigrationRecord(**json.loads(t)) for t in await self.store.all())
        }

    async def record(self, collection: str) -> MigrationRecord:
        """The migration of one collection, or NOT_FOUND."""
        record = (await self.records()).get(collection)
        if record is None:
            raise NotFound(
                f"collection `{collection}` has no migration; start one with "
                f"`vecgate migrate start {collection} --to <model>@<version>`",
                reason="no_migration",
            )
        return record

    async def _save(self, record: MigrationRecord) -> None:
        await self.store.put(record.collection, json.dumps(asdict(record), sort_keys=True))

    async def _partitions(
        self, record: MigrationRecord
    ) -> tuple[LogicalCollection, Partition | None, Partition | None]:
        await self.registry.refresh()
        logical = self.registry.resolve(record.collection)
        source = _single(logical, Identity.parse(record.source))
        target = _single(logical, Identity.parse(record.target))
        return logical, source, target

    # -- start ------------------------------------------------------------------------------

    async def start(
        self, collection: str, to: str, dimension: int, distance: str, by: str
    ) -> MigrationRecord:
        """Create or adopt the target partition and record the migration."""
        target = self.config.pin_policy().parse(to, where="to")
        await self.registry.refresh()
        logical = self.registry.resolve(collection)
        active = logical.active
        if active is None:
            raise FailedPrecondition(f"collection `{logical.name}` has no active version")
        sources = set(active.binding.values())
        if len(sources) != 1:
            raise Unimplemented(
                f"`{logical.name}` holds vectors of several models ({active.label()}); "
                "migrating such collections is not supported yet"
            )
        (source,) = sources
        if source == target:
            raise InvalidArgument(f"`{logical.name}` is already on {target}")
        existing = (await self.records()).get(logical.name)
        if existing is not None and existing.state != "dropped" and _alive(logical, existing):
            raise FailedPrecondition(
                f"`{logical.name}` is already migrating from {existing.source} to "
                f"{existing.target} ({existing.state}); finish it (retire and drop) first",
                reason="migration_exists",
            )
        partition = _single(logical, target)
        adopted = partition is not None
        if partition is None:
            partition = await self._create_target(logical, active, target, dimension, distance)
        record = MigrationRecord(
            collection=logical.name,
            source=str(source),
            target=str(target),
            state="migrating",
            started=now(),
            target_points_at_start=await self._count(partition),
        )
        if existing is not None:  # an ended migration (dropped, or its collection deleted)
            record.history = existing.history
        record.event("start", by, f"{source} -> {target}" + (" (adopted)" if adopted else ""))
        if adopted:
            record.covered_at_start = (await self.ledger(record)).covered
        await self._save(record)
        return record

    async def _create_target(
        self,
        logical: LogicalCollection,
        active: Partition,
        target: Identity,
        dimension: int,
        distance: str,
    ) -> Partition:
        known = self.models.get(target)
        size = dimension or (known.dimension if known else 0)
        metric = check_distance(distance) or (known.distance if known else "")
        if not size or not metric:
            raise InvalidArgument(
                f"{target} is not registered; give its dimension and distance "
                "(--dimension N --distance Cosine) or register the model first",
                reason="unknown_shape",
            )
        request = cpb.CreateCollection(collection_name=logical.name)
        specs: dict[str, VectorSpec] = {}
        names = list(active.vectors)
        for name in names:
            if active.vectors[name].sparse:
                raise Unimplemented("migrating sparse vectors is not supported yet")
        if names == [""]:
            params = request.vectors_config.params
            params.size, params.distance = size, _DISTANCE_CODES[metric]
        else:
            for name in names:
                params = request.vectors_config.params_map.map[name]
                params.size, params.distance = size, _DISTANCE_CODES[metric]
        for name in names:
            specs[name] = VectorSpec(size, metric)
        binding = dict.fromkeys(names, target)
        return await self.catalog.create_partition(logical.name, binding, specs, request)

    # -- ledger and backlog ------------------------------------------------------------------

    async def _count(self, partition: Partition) -> int:
        reply = await self.backend.handle(
            "/qdrant.Points/Count", ppb.CountPoints(collection_name=partition.physical, exact=True)
        )
        return int(reply.result.count)

    async def _scan(
        self, source: Partition, offset: Any, limit: int, fields: Sequence[str] | None
    ) -> tuple[list[Any], Any]:
        request = ppb.ScrollPoints(collection_name=source.physical, limit=limit)
        if fields is None:
            request.with_payload.enable = False
        elif fields:
            request.with_payload.include.fields.extend(fields)
        else:
            request.with_payload.enable = True
        if offset is not None:
            request.offset.CopyFrom(offset)
        reply = await self.backend.handle("/qdrant.Points/Scroll", request)
        following = reply.next_page_offset if reply.HasField("next_page_offset") else None
        return list(reply.result), following

    async def _present(self, target: Partition, points: list[Any]) -> set[str]:
        if not points:
            return set()
        request = ppb.GetPoints(collection_name=target.physical, ids=[p.id for p in points])
        request.with_payload.enable = False
        reply = await self.backend.handle("/qdrant.Points/Get", request)
        return {p.id.SerializeToString() for p in reply.result}

    async def ledger(self, record: MigrationRecord) -> Ledger:
        """Count source points and those with a target counterpart (walks every id)."""
        _, source, target = await self._partitions(record)
        if source is None or target is None:
            raise FailedPrecondition(
                f"the migration of `{record.collection}` has no source any more"
            )
        total = covered = 0
        offset: Any = None
        while True:
            page, offset = await self._scan(source, offset, SCAN_PAGE, None)
            total += len(page)
            covered += len(await self._present(target, page))
            if offset is None:
                break
        target_points = await self._count(target)
        return Ledger(total, covered, target_points, self._rate(record, covered))

    def _rate(self, record: MigrationRecord, covered: int) -> float:
        """Coverage gained per second since the previous ledger of this migration.

        Measured on coverage (not on target writes, which include applications' own),
        between two readings, so an idle migration does not dilute a running backfill.
        The first reading of a process measures from the start of the migration.
        """
        moment = time.monotonic()
        previous = self._readings.get(record.collection)
        self._readings[record.collection] = (moment, covered)
        if previous is None:
            started = datetime.fromisoformat(record.started)
            elapsed = (datetime.now(UTC) - started).total_seconds()
            gained = covered - record.covered_at_start
        else:
            elapsed, gained = moment - previous[0], covered - previous[1]
        return max(0.0, gained / elapsed) if elapsed > 0 else 0.0

    async def backlog(
        self,
        collection: str,
        page_size: int,
        cursor: str,
        fields: Sequence[str],
        *,
        as_points: bool = False,
    ) -> AsyncIterator[tuple[list[tuple[str, str | bytes]], str, int]]:
        """Pages of (id, payload JSON) of source points without a target point.

        With `as_points`, (id, serialised PointStruct of id and payload) instead: the
        payload entries are copied as bytes, never converted (`wire_points.PointCopier`).
        """
        copy = PointCopier(self.tag_keys) if as_points else None
        record = await self.record(collection)
        _, source, target = await self._partitions(record)
        if source is None or target is None:
            raise FailedPrecondition(f"the migration of `{collection}` has no source any more")
        offset = _decode_cursor(cursor)
        scanned = 0
        size = page_size or 256
        while True:
            page, following = await self._scan(source, offset, size, list(fields))
            scanned += len(page)
            present = await self._present(target, page)
            missing = [p for p in page if p.id.SerializeToString() not in present]
            out: list[tuple[str, str | bytes]] = []
            for point in missing:
                if copy is not None:
                    out.append((_id_text(point.id), copy(point)))
                    continue
                payload = payload_to_python(point.payload)
                for key in self.tag_keys:
                    payload.pop(key, None)
                out.append((_id_text(point.id), json.dumps(payload)))
            next_cursor = _encode_cursor(following)
            if out or following is None:
                yield out, next_cursor, scanned
            if following is None:
                return
            offset = following

    # -- verify -------------------------------------------------------------------------------

    async def _top(self, partition: Partition, vector: Sequence[float], k: int) -> list[str]:
        request = ppb.QueryPoints(collection_name=partition.physical, limit=k)
        request.query.nearest.dense.data.extend(vector)
        reply = await self.backend.handle("/qdrant.Points/Query", request)
        return [_id_text(p.id) for p in reply.result]

    async def verify(
        self, collection: str, k: int, queries: Sequence[Any], by: str
    ) -> dict[str, Any]:
        """Answer golden query pairs with both versions; store and return the report."""
        record = await self.record(collection)
        _, source, target = await self._partitions(record)
        if source is None or target is None:
            raise FailedPrecondition(f"the migration of `{collection}` has no source any more")
        if not queries:
            raise InvalidArgument("verify needs at least one golden query pair")
        k = k or 10
        overlaps: list[float] = []
        source_recall: list[float] = []
        target_recall: list[float] = []
        for i, query in enumerate(queries):
            for side, partition in (("source_vector", source), ("target_vector", target)):
                size = partition.vectors[""].size if "" in partition.vectors else None
                if size is not None and len(getattr(query, side)) != size:
                    raise InvalidArgument(
                        f"queries[{i}].{side} has {len(getattr(query, side))} dimensions; "
                        f"{partition.label()} makes {size}"
                    )
            top_source = await self._top(source, query.source_vector, k)
            top_target = await self._top(target, query.target_vector, k)
            overlaps.append(len(set(top_source) & set(top_target)) / k)
            relevant = set(query.relevant_ids)
            if relevant:
                source_recall.append(len(relevant & set(top_source)) / len(relevant))
                target_recall.append(len(relevant & set(top_target)) / len(relevant))
        overlap = sum(overlaps) / len(overlaps)
        report = {
            "at": now(),
            "k": k,
            "queries": len(queries),
            "overlap": overlap,
            "source_recall": sum(source_recall) / len(source_recall) if source_recall else 0.0,
            "target_recall": sum(target_recall) / len(target_recall) if target_recall else 0.0,
            "labelled": len(source_recall),
            "passed": overlap >= self.config.migration.min_overlap,
        }
        record.last_verify = report
        record.event("verify", by, f"overlap@{k} {overlap:.3f} over {len(queries)} queries")
        await self._save(record)
        return report

    # -- switches -----------------------------------------------------------------------------

    async def _switch(self, logical: LogicalCollection, to: Partition) -> None:
        """Point the logical name and every user alias at `to`, in one backend request."""
        change = cpb.ChangeAliases()
        for alias in (logical.name, *logical.aliases):
            change.actions.add().delete_alias.alias_name = alias
            create = change.actions.add().create_alias
            create.alias_name, create.collection_name = alias, to.physical
        await self.backend.handle("/qdrant.Collections/UpdateAliases", change)

    async def cutover(self, collection: str, force: bool, by: str) -> MigrationRecord:
        """Make the target version active."""
        record = await self.record(collection)
        if record.state not in ("migrating", "rolled_back"):
            raise FailedPrecondition(
                f"`{collection}` cannot be cut over while {record.state}", reason="state"
            )
        ledger = await self.ledger(record)
        if ledger.missing and not force:
            raise FailedPrecondition(
                f"{ledger.missing} of {ledger.source_points} points of `{collection}` have no "
                f"{record.target} vector yet ({ledger.percent:.1f}% covered); finish the "
                "backfill, or cut over anyway with force",
                reason="coverage",
            )
        self._check_verify(record)
        async with self.registry.lock:
            logical, _, target = await self._partitions(record)
            assert target is not None
            await self._switch(logical, target)
            await self.registry.refresh()
        record.state = "cut_over"
        record.event(
            "cutover",
            by,
            f"{record.target} active; coverage {ledger.percent:.1f}%"
            + (" (forced)" if ledger.missing else ""),
        )
        await self._save(record)
        return record

    def _check_verify(self, record: MigrationRecord) -> None:
        policy = self.config.migration
        report = record.last_verify
        if report is None:
            if policy.require_verify:
                raise FailedPrecondition(
                    f"no verify has run for `{record.collection}` and migration.require_verify "
                    "is set; run `vecgate migrate verify` first",
                    reason="no_verify",
                )
            return
        if not report["passed"] or report["overlap"] < policy.min_overlap:
            raise FailedPrecondition(
                f"the last verify of `{record.collection}` found top-{report['k']} overlap "
                f"{report['overlap']:.3f}, below migration.min_overlap "
                f"{policy.min_overlap}; fix the target version or run verify again",
                reason="verify_floor",
            )

    async def rollback(self, collection: str, by: str) -> MigrationRecord:
        """Make the source version active again (until it is retired)."""
        record = await self.record(collection)
        if record.state != "cut_over":
            raise FailedPrecondition(
                f"`{collection}` can be rolled back only after a cut-over and before retire; "
                f"it is {record.state}",
                reason="state",
            )
        async with self.registry.lock:
            logical, source, _ = await self._partitions(record)
            assert source is not None
            await self._switch(logical, source)
            await self.registry.refresh()
        record.state = "rolled_back"
        record.event("rollback", by, f"{record.source} active again")
        await self._save(record)
        return record

    async def retire(self, collection: str, by: str) -> MigrationRecord:
        """Make the source version read-only."""
        record = await self.record(collection)
        if record.state != "cut_over":
            raise FailedPrecondition(
                f"`{collection}` can be retired only after a cut-over; it is {record.state}",
                reason="state",
            )
        async with self.registry.lock:
            _, source, _ = await self._partitions(record)
            assert source is not None
            retired = Partition(
                source.physical,
                source.logical,
                source.binding,
                source.vectors,
                source.created,
                retired=True,
            )
            update = cpb.UpdateCollection(collection_name=source.physical)
            update.metadata[METADATA_KEY].string_value = retired.to_metadata()
            await self.backend.handle("/qdrant.Collections/Update", update)
            await drop_bridges(self.registry.bridge_store, {source.physical})
            await self.registry.refresh()
        record.state = "retired"
        record.event("retire", by, f"{record.source} is read-only")
        await self._save(record)
        return record

    async def drop(self, collection: str, confirm: bool, by: str) -> MigrationRecord:
        """Delete the retired source partition."""
        record = await self.record(collection)
        if record.state != "retired":
            raise FailedPrecondition(
                f"only a retired version can be dropped; `{collection}` is {record.state}",
                reason="state",
            )
        if not confirm:
            raise InvalidArgument(
                f"dropping {record.source} of `{collection}` deletes its index for good; "
                "confirm it",
                reason="unconfirmed",
            )
        async with self.registry.lock:
            _, source, _ = await self._partitions(record)
            assert source is not None
            await self.backend.handle(
                "/qdrant.Collections/Delete", cpb.DeleteCollection(collection_name=source.physical)
            )
            await drop_bridges(self.registry.bridge_store, {source.physical})
            await self.registry.refresh()
        record.state = "dropped"
        record.event("drop", by, f"{record.source} deleted")
        await self._save(record)
        return record


def _alive(logical: LogicalCollection, record: MigrationRecord) -> bool:
    """Whether a recorded migration's versions still exist in this logical collection.

    Deleting and re-creating a collection ends its migration: the new collection's
    versions are other partitions, even under the same identities.
    """
    started = datetime.fromisoformat(record.started)
    return any(
        datetime.fromisoformat(p.created) <= started
        and {str(i) for i in p.binding.values()} <= {record.source, record.target}
        for p in logical.partitions
    )


def _single(logical: LogicalCollection, identity: Identity) -> Partition | None:
    """The partition all of whose vectors come from `identity`."""
    return next((p for p in logical.partitions if set(p.binding.values()) == {identity}), None)


def _id_text(point_id: Any) -> str:
    return point_id.uuid if point_id.WhichOneof("point_id_options") == "uuid" else str(point_id.num)


def _encode_cursor(offset: Any) -> str:
    return "" if offset is None else _id_text(offset)


def _decode_cursor(cursor: str) -> Any:
    if not cursor:
        return None
    from qdrant_client.grpc import qdrant_common_pb2 as common

    point_id = common.PointId()
    if cursor.isdigit():
        point_id.num = int(cursor)
    else:
        point_id.uuid = cursor
    return point_id
