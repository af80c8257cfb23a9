"""The `vecgate.v1.Admin` service: collections, models, keys, explain, status.

Every call needs an admin key in the `api-key` metadata (a configured key with the
admin role, or the quick-start `--admin-key`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
import structlog
from qdrant_client.grpc import points_pb2 as ppb

from adapters.base import Backend
from proxy.admin.explain import explain
from proxy.admin.generated import admin_pb2, admin_pb2_grpc
from proxy.bridge.bridges import Bridges, _set_from_dict
from proxy.bridge.record import BridgeRecord, map_bytes
from proxy.chain import Filter
from proxy.config import Config, KeyConfig
from proxy.drift.fingerprints import FingerprintBook, FingerprintState
from proxy.drift.watch import DriftWatch, Watched
from proxy.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    VecgateError,
)
from proxy.filters.deprecation import utc_today
from proxy.identity import Identity
from proxy.keys import KeyRing, new_key
from proxy.migrations import MigrationRecord, Migrations
from proxy.models import ModelRecord, ModelRegistry, check_distance, parse_sunset
from proxy.registry import LogicalCollection, Partition, Registry
from proxy.telemetry.inspection import Inspection, Match, RequestRecord
from proxy.version import QDRANT_PROTOCOL_VERSION, VECGATE_VERSION

Context = grpc.aio.ServicerContext[Any, Any]
log = structlog.get_logger("vecgate.admin")


def _internal(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """Log an unexpected exception; the status and sentence the caller gets."""
    log.exception("admin call failed", error=type(exc).__name__)
    return grpc.StatusCode.INTERNAL, f"internal error in vecgate: {type(exc).__name__}: {exc}"


class AdminService(admin_pb2_grpc.AdminServicer):
    """Answers the admin API from the registry, the model registry and the backend."""

    def __init__(
        self,
        config: Config,
        backend: Backend,
        *,
        registry: Registry,
        models: ModelRegistry,
        filters: Sequence[Filter],
        migrations: Migrations,
        keys: KeyRing,
        inspection: Inspection | None = None,
        fingerprints: FingerprintBook | None = None,
        watch: DriftWatch | None = None,
    ) -> None:
        self.config = config
        self.fingerprints = fingerprints or FingerprintBook(
            backend, config.drift.fingerprint_min_cosine
        )
        self.watch = watch
        self.backend = backend
        self.registry = registry
        self.models = models
        self.filters = filters
        self.migrations = migrations
        self.keys = keys
        self.inspection = inspection or Inspection(0)
        self.started = time.monotonic()
        self.bridges = Bridges(config, backend, registry)

    # -- plumbing ---------------------------------------------------------------------------

    def _authorise(self, context: Context, roles: tuple[str, ...] = ("admin",)) -> KeyConfig:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        presented = metadata.get("api-key")
        if not presented:
            raise Unauthenticated(
                "the admin API needs an admin key in the api-key metadata (configure a key "
                "with role = admin, or start vecgate with --admin-key / VECGATE_ADMIN_KEY)",
                reason="no_admin_key",
            )
        key = self.keys.find(presented)
        if key.role not in roles:
            needed = " or ".join(roles)
            raise PermissionDenied(
                f"api key {key.name!r} has the role {key.role}; this call needs role {needed}",
                reason="role",
            )
        return key

    async def _guarded(
        self, context: Context, work: Any, roles: tuple[str, ...] = ("admin",)
    ) -> Any:
        try:
            await self.keys.fresh(time.perf_counter())  # a key another replica just added
            return await work(self._authorise(context, roles))
        except VecgateError as error:
            await context.abort(error.code, error.message)
        except Exception as exc:  # a bug: INTERNAL, never UNKNOWN, and logged
            await context.abort(*_internal(exc))

    # -- collections -------------------------------------------------------------------------

    async def _points(self, partition: Partition) -> int:
        reply = await self.backend.handle(
            "/qdrant.Points/Count",
            ppb.CountPoints(collection_name=partition.physical, exact=True),
        )
        return int(reply.result.count)

    async def _collection_view(self, logical: LogicalCollection) -> Any:
        view = admin_pb2.CollectionView(
            name=logical.name,
            active=logical.active.label() if logical.active else "",
            aliases=logical.aliases,
        )
        counts = await asyncio.gather(*(self._points(p) for p in logical.partitions))
        for partition, points in zip(logical.partitions, counts, strict=True):
            version = view.versions.add(
                identity=partition.label(),
                points=points,
                state="active" if partition is logical.active else "inactive",
                created=partition.created,
                partition=partition.physical,
            )
            for name, spec in sorted(partition.vectors.items()):
                identity = partition.binding[name]
                version.vectors.add(
                    name=name,
                    model=identity.model,
                    version=identity.version,
                    dimension=spec.size or 0,
                    distance=spec.distance,
                    sparse=spec.sparse,
                    multivector=spec.multivector,
                )
        return view

    async def ListCollections(self, request: Any, context: Context) -> Any:
        """Every logical collection with its versions."""

        async def work(key: KeyConfig) -> Any:
            state = await self.registry.refresh()
            reply = admin_pb2.ListCollectionsReply()
            for name in sorted(state.collections):
                reply.collections.append(await self._collection_view(state.collections[name]))
            return reply

        return await self._guarded(context, work)

    async def DescribeCollection(self, request: Any, context: Context) -> Any:
        """One logical collection, by name or user alias."""

        async def work(key: KeyConfig) -> Any:
            await self.registry.refresh()
            return await self._collection_view(self.registry.resolve(request.name))

        return await self._guarded(context, work)

    # -- models ------------------------------------------------------------------------------

    def _model_view(self, record: ModelRecord) -> Any:
        today = utc_today()
        days = record.days_to_sunset(today)
        users = sorted(
            logical.name
            for logical in self.registry.state.collections.values()
            if any(record.identity in p.binding.values() for p in logical.partitions)
        )
        return admin_pb2.ModelView(
            name=record.identity.model,
            version=record.identity.version,
            dimension=record.dimension,
            distance=record.distance,
            digest=record.digest,
            sunset=record.sunset.isoformat() if record.sunset else "",
            notes=record.notes,
            source=record.source,
            deprecation=record.deprecation(today, self.config.deprecation),
            days_to_sunset=days or 0,
            collections=users,
        )

    async def ListModels(self, request: Any, context: Context) -> Any:
        """Known models, flagged near or past their sunset."""

        async def work(key: KeyConfig) -> Any:
            await self.models.refresh()
            await self.registry.refresh()
            return admin_pb2.ListModelsReply(
                models=[self._model_view(record) for record in self.models.all()]
            )

        return await self._guarded(context, work)

    def _identity(self, text: str) -> Identity:
        return self.config.pin_policy().parse(text, where="model")

    async def RegisterModel(self, request: Any, context: Context) -> Any:
        """Register a pinned model version with its shape."""

        async def work(key: KeyConfig) -> Any:
            if request.dimension < 1:
                raise InvalidArgument("dimension must be a positive number of dimensions")
            if not request.distance:
                raise InvalidArgument("distance is required: Cosine, Euclid, Dot or Manhattan")
            record = ModelRecord(
                identity=self._identity(request.model),
                dimension=request.dimension,
                distance=check_distance(request.distance),
                digest=request.digest,
                sunset=parse_sunset(request.sunset),
                notes=request.notes,
            )
            return self._model_view(await self.models.register(record))

        return await self._guarded(context, work)

    async def UpdateModel(self, request: Any, context: Context) -> Any:
        """Change the digest, sunset date or notes of a registered model."""

        async def work(key: KeyConfig) -> Any:
            record = await self.models.update(
                self._identity(request.model),
                digest=request.digest if request.HasField("digest") else None,
                sunset=request.sunset if request.HasField("sunset") else None,
                notes=request.notes if request.HasField("notes") else None,
            )
            return self._model_view(record)

        return await self._guarded(context, work)

    # -- explain, keys, status -------------------------------------------------------------------

    async def Explain(self, request: Any, context: Context) -> Any:
        """Dry run of the routing filters."""

        async def work(key: KeyConfig) -> Any:
            await self.registry.refresh()
            if not request.collection:
                raise InvalidArgument("collection is required")
            return explain(self.filters, request)

        return await self._guarded(context, work)

    async def ListKeys(self, request: Any, context: Context) -> Any:
        """Configured and added keys, never their secret."""

        async def work(key: KeyConfig) -> Any:
            reply = admin_pb2.ListKeysReply()
            state = await self.keys.refresh()
            for bound in state.by_hash.values():
                reply.keys.append(self._key_view(bound))
            return reply

        return await self._guarded(context, work)

    async def AddKey(self, request: Any, context: Context) -> Any:
        """Store a new key; every replica honours it."""

        async def work(key: KeyConfig) -> Any:
            added = new_key(
                request.name, request.sha256, request.identity, request.role, request.collections
            )
            await self.keys.add(added)
            log.info("key added", name=added.name, role=added.role, by=key.name)
            return self._key_view(added)

        return await self._guarded(context, work)

    async def RemoveKey(self, request: Any, context: Context) -> Any:
        """Remove a key added at run time."""

        async def work(key: KeyConfig) -> Any:
            removed = await self.keys.remove(request.name)
            log.info("key removed", name=removed.name, by=key.name)
            view = self._key_view(removed)
            view.source = "stored"
            return view

        return await self._guarded(context, work)

    def _key_view(self, key: KeyConfig) -> Any:
        return admin_pb2.KeyView(
            name=key.name,
            identity=key.identity or "",
            role=key.role,
            collections=key.collections,
            fingerprint=key.sha256[:8],
            source=self.keys.source(key),
        )

    async def Status(self, request: Any, context: Context) -> Any:
        """Versions, counts, uptime and deprecations."""

        async def work(key: KeyConfig) -> Any:
            state = await self.registry.refresh()
            await self.models.refresh()
            today = utc_today()
            deprecated = [
                self._model_view(r)
                for r in self.models.all()
                if r.deprecation(today, self.config.deprecation)
            ]
            return admin_pb2.StatusReply(
                vecgate_version=VECGATE_VERSION,
                qdrant_api_version=QDRANT_PROTOCOL_VERSION,
                backend=self.backend.kind,
                collections=len(state.collections),
                partitions=len(state.by_physical),
                models=len(self.models.all()),
                keys=len(self.keys.state.by_hash),
                uptime_seconds=time.monotonic() - self.started,
                deprecations=deprecated,
            )

        return await self._guarded(context, work)

    # -- migrations ------------------------------------------------------------------------------

    async def _migration_view(self, record: MigrationRecord, ledger: bool) -> Any:
        await self.registry.refresh()
        logical = self.registry.state.collections.get(record.collection)
        view = admin_pb2.MigrationView(
            collection=record.collection,
            source=record.source,
            target=record.target,
            state=record.state,
            active=logical.active.label() if logical and logical.active else "",
            started=record.started,
        )
        if record.last_verify is not None:
            view.last_verify.CopyFrom(admin_pb2.VerifyReport(**record.last_verify))
        if ledger and record.state != "dropped":
            counts = await self.migrations.ledger(record)
            rate = counts.rate_per_second
            view.ledger.CopyFrom(
                admin_pb2.Ledger(
                    source_points=counts.source_points,
                    covered=counts.covered,
                    missing=counts.missing,
                    percent=counts.percent,
                    rate_per_second=rate,
                    eta_seconds=counts.missing / rate
                    if rate > 0
                    else (0.0 if not counts.missing else -1.0),
                    target_points=counts.target_points,
                )
            )
        return view

    async def StartMigration(self, request: Any, context: Context) -> Any:
        """Create or adopt the target version; the collection starts migrating."""

        async def work(key: KeyConfig) -> Any:
            record = await self.migrations.start(
                request.collection, request.to, request.dimension, request.distance, key.name
            )
            return await self._migration_view(record, ledger=False)

        return await self._guarded(context, work)

    async def GetMigration(self, request: Any, context: Context) -> Any:
        """The migration of one collection, with its ledger when asked."""

        async def work(key: KeyConfig) -> Any:
            record = await self.migrations.record(request.collection)
            return await self._migration_view(record, ledger=request.ledger)

        return await self._guarded(context, work)

    async def StreamBacklog(self, request: Any, context: Context) -> AsyncIterator[Any]:
        """Pages of source points that still lack a target vector."""
        try:
            self._authorise(context)
            pages = self.migrations.backlog(
                request.collection,
                request.page_size,
                request.cursor,
                request.payload_fields,
                as_points=request.as_points,
            )
            field = "point" if request.as_points else "payload_json"
            async for points, cursor, scanned in pages:
                page = admin_pb2.BacklogPage(cursor=cursor, scanned=scanned)
                for point_id, payload in points:
                    page.points.add(id=point_id, **{field: payload})
                yield page
        except VecgateError as error:
            await context.abort(error.code, error.message)
        except Exception as exc:  # a bug: INTERNAL, never UNKNOWN, and logged
            await context.abort(*_internal(exc))

    async def Verify(self, request: Any, context: Context) -> Any:
        """Answer golden query pairs with both versions; store the report."""

        async def work(key: KeyConfig) -> Any:
            report = await self.migrations.verify(
                request.collection, request.k, list(request.queries), key.name
            )
            return admin_pb2.VerifyReport(**report)

        return await self._guarded(context, work)

    async def Cutover(self, request: Any, context: Context) -> Any:
        """Switch the active version to the target, atomically."""

        async def work(key: KeyConfig) -> Any:
            record = await self.migrations.cutover(request.collection, request.force, key.name)
            return await self._migration_view(record, ledger=False)

        return await self._guarded(context, work)

    async def Rollback(self, request: Any, context: Context) -> Any:
        """Switch the active version back to the source."""

        async def work(key: KeyConfig) -> Any:
            record = await self.migrations.rollback(request.collection, key.name)
            return await self._migration_view(record, ledger=False)

        return await self._guarded(context, work)

    async def Retire(self, request: Any, context: Context) -> Any:
        """Make the source version read-only."""

        async def work(key: KeyConfig) -> Any:
            record = await self.migrations.retire(request.collection, key.name)
            return await self._migration_view(record, ledger=False)

        return await self._guarded(context, work)

    async def DropVersion(self, request: Any, context: Context) -> Any:
        """Delete the retired source version."""

        async def work(key: KeyConfig) -> Any:
            record = await self.migrations.drop(request.collection, request.confirm, key.name)
            return await self._migration_view(record, ledger=False)

        return await self._guarded(context, work)

    async def MigrationHistory(self, request: Any, context: Context) -> Any:
        """Every recorded step, oldest first."""

        async def work(key: KeyConfig) -> Any:
            records = await self.migrations.records()
            events = [
                event
                for name, record in records.items()
                if not request.collection or name == request.collection
                for event in record.history
            ]
            events.sort(key=lambda e: e["at"])
            return admin_pb2.MigrationHistoryReply(
                events=[admin_pb2.MigrationEvent(**event) for event in events]
            )

        return await self._guarded(context, work)

    # -- inspection ------------------------------------------------------------------------------

    async def InspectRequests(self, request: Any, context: Context) -> AsyncIterator[Any]:
        """Kept records that match, then (follow) new ones as requests end."""
        follower = None
        try:
            self._authorise(context)
            trace_id = request.trace_id.strip().lower()
            if trace_id and (not 8 <= len(trace_id) <= 32 or not _is_hex(trace_id)):
                raise InvalidArgument(
                    f"trace id {request.trace_id!r} is not 32 hex digits (or the first 8 or "
                    "more of them), e.g. 4bf92f3577b34da6a3ce929d0e0e4736"
                )
            match = Match(
                refused_only=request.refused_only,
                collection=request.collection,
                model=request.model,
                trace_id=trace_id,
            )
            # No await between reading the ring and following: nothing is missed or doubled.
            kept = self.inspection.recent(match, request.limit)
            if request.follow:
                follower = self.inspection.follow(match)
            for record in kept:
                yield record_message(record)
            while follower is not None:
                new = await follower.next()
                if new is None:
                    break
                yield record_message(new)
        except VecgateError as error:
            await context.abort(error.code, error.message)
        except Exception as exc:  # a bug: INTERNAL, never UNKNOWN, and logged
            await context.abort(*_internal(exc))
        finally:
            if follower is not None:
                self.inspection.unfollow(follower)

    # -- drift watch: fingerprints ---------------------------------------------------------------

    def _fingerprint_view(self, record: FingerprintState, texts: list[str] | None = None) -> Any:
        return admin_pb2.FingerprintView(
            model=record.identity,
            texts=texts or [],
            dimension=record.dimension,
            digest=record.digest,
            state=record.state,
            suspect_reason=record.suspect_reason,
            suspect_since=record.suspect_since,
            registered=record.registered,
            last_check=record.last_check,
            last_passed=record.last_passed,
            threshold=self.fingerprints.min_cosine,
            checks=record.checks,
            history=record.history,
        )

    async def RegisterFingerprint(self, request: Any, context: Context) -> Any:
        """Store a version's anchors (texts and vectors) in the backend."""

        async def work(key: KeyConfig) -> Any:
            identity = self._identity(request.model)
            texts = [a.text for a in request.anchors]
            vectors = [list(a.vector) for a in request.anchors]
            record = self.models.get(identity)
            if record and record.dimension and vectors and len(vectors[0]) != record.dimension:
                raise InvalidArgument(
                    f"anchor vectors have {len(vectors[0])} dimensions; {identity} makes "
                    f"{record.dimension}"
                )
            state = await self.fingerprints.register(
                identity,
                texts,
                vectors,
                digest=request.digest,
                batch_size=request.batch_size,
                how=request.how,
                replace_existing=request.replace,
            )
            log.info("fingerprint registered", model=str(identity), anchors=len(texts), by=key.name)
            return await self._fingerprint_with_texts(state)

        return await self._guarded(context, work)

    async def _fingerprint_with_texts(self, state: FingerprintState) -> Any:
        if not state.anchors:  # a digest mismatch marked a version without anchors
            return self._fingerprint_view(state)
        anchors = await self.fingerprints.anchors(self._identity(state.identity))
        view = self._fingerprint_view(state, anchors.texts)
        view.batch_size = anchors.batch_size
        view.how = anchors.how
        return view

    async def GetFingerprint(self, request: Any, context: Context) -> Any:
        """A version's anchor texts and state."""

        async def work(key: KeyConfig) -> Any:
            identity = self._identity(request.model)
            await self.fingerprints.refresh()
            state = self.fingerprints.get(identity)
            if state is None:
                raise NotFound(
                    f"{identity} has no fingerprint; register one with `vecgate models "
                    f"fingerprint register {identity} --anchors FILE`",
                    reason="no_fingerprint",
                )
            return await self._fingerprint_with_texts(state)

        return await self._guarded(context, work, roles=("admin", "writer"))

    async def VerifyFingerprint(self, request: Any, context: Context) -> Any:
        """Compare re-computed anchors; a failure marks the version suspect."""

        async def work(key: KeyConfig) -> Any:
            identity = self._identity(request.model)
            bound = self.keys.identity_of(key.name)
            if key.role != "admin" and bound is not None and bound != identity:
                raise PermissionDenied(
                    f"api key {key.name!r} speaks for {bound}; it may check only that version",
                    reason="scope",
                )
            vectors = [list(v.values) for v in request.vectors]
            result, state = await self.fingerprints.verify(identity, vectors)
            anchors = await self.fingerprints.anchors(identity)
            log.info(
                "fingerprint checked",
                model=str(identity),
                passed=result.passed,
                min_cosine=round(result.min_cosine, 6) if result.cosines else None,
                by=key.name,
            )
            return admin_pb2.FingerprintReport(
                model=str(identity),
                passed=result.passed,
                threshold=result.threshold,
                min_cosine=result.min_cosine if result.cosines else 0.0,
                mean_cosine=result.mean_cosine if result.cosines else 0.0,
                cosines=result.cosines,
                below=[anchors.texts[i] for i in result.below],
                state=state.state,
                message=result.message,
            )

        return await self._guarded(context, work, roles=("admin", "writer"))

    async def ClearSuspect(self, request: Any, context: Context) -> Any:
        """Accept writes under a suspect version again (an operator's decision)."""

        async def work(key: KeyConfig) -> Any:
            identity = self._identity(request.model)
            state = await self.fingerprints.clear(identity, key.name, request.note)
            return self._fingerprint_view(state)

        return await self._guarded(context, work)

    # -- drift watch: statistics ----------------------------------------------------------------

    def _watch(self) -> DriftWatch:
        if self.watch is None:
            raise FailedPrecondition(
                "the drift watch is off in this vecgate (drift.enabled = false)",
                reason="drift_off",
            )
        return self.watch

    def _drift_reply(self, collection: str, detail: bool) -> Any:
        watch = self._watch()
        counters = watch.counters
        reply = admin_pb2.DriftReply(
            enabled=True,
            offered=counters.offered,
            dropped=counters.dropped,
            queued=watch.queue.qsize(),
            unwatched=counters.unwatched,
            skipped=counters.skipped,
        )
        for watched in sorted(
            watch.watched.values(), key=lambda w: (w.partition.logical, w.partition.created)
        ):
            if collection and watched.partition.logical != collection:
                continue
            reply.partitions.append(self._partition_drift(watch, watched, detail))
        return reply

    def _partition_drift(self, watch: DriftWatch, watched: Watched, detail: bool) -> Any:
        stats = watched.stats
        verdict = watch.verdict(watched)
        reupserts = watched.reupserts
        states = [self.fingerprints.get(i) for i in watched.partition.binding.values()]
        known = [s for s in states if s is not None]
        view = admin_pb2.PartitionDrift(
            collection=watched.partition.logical,
            version=watched.partition.label(),
            partition=watched.partition.physical,
            vectors=stats.count,
            reference_vectors=stats.reference_filled,
            recent_vectors=stats.recent_filled,
            ready=stats.ready,
            verdict=verdict.kind,
            evidence=verdict.evidence,
            next_step=verdict.next_step,
            reupserts_checked=reupserts.checked if reupserts else 0,
            reupserts_diverged=reupserts.diverged if reupserts else 0,
            norm_mean=stats.norms.mean,
            norm_std=stats.norms.std,
            norm_quantiles=stats.norm_quantiles(),
            memory_bytes=stats.memory_bytes + (reupserts.memory_bytes if reupserts else 0),
            skipped=watched.skipped,
            fingerprint=("suspect" if any(s.suspect for s in known) else "ok") if known else "",
            reference_size=stats.settings.reference_size,
            window=stats.settings.window,
        )
        if stats.last is not None:
            view.latest.CopyFrom(_scores_view(stats.last))
        if detail:
            view.history.extend(_scores_view(s) for s in stats.history)
            reference, recent = stats.cosines_to_reference()
            view.reference_cosines.extend(reference)
            view.recent_cosines.extend(recent)
        return view

    async def GetDrift(self, request: Any, context: Context) -> Any:
        """Per-partition drift figures as this replica saw its writes."""

        async def work(key: KeyConfig) -> Any:
            if request.collection:
                await self.registry.refresh()
                self.registry.resolve(request.collection)  # NOT_FOUND for unknown names
            await self.fingerprints.refresh()
            return self._drift_reply(request.collection, request.detail)

        return await self._guarded(context, work)

    async def PinDriftReference(self, request: Any, context: Context) -> Any:
        """The next vectors written under the version become its reference."""

        async def work(key: KeyConfig) -> Any:
            watch = self._watch()
            await self.registry.refresh()
            logical = self.registry.resolve(request.collection)
            if request.version:
                identity = self._identity(request.version)
                partition = next(
                    (p for p in logical.partitions if identity in p.binding.values()), None
                )
            else:
                partition = logical.active
            if partition is None:
                raise NotFound(
                    f"collection `{logical.name}` has no version {request.version or '(active)'}"
                    f"; it holds {logical.versions_text()}",
                    reason="no_partition",
                )
            if not watch.pin(partition.physical):
                raise FailedPrecondition(
                    f"{partition.label()} of `{logical.name}` has no statistics on this "
                    "replica yet (nothing written through it since it started)",
                    reason="not_watched",
                )
            log.info("drift reference pinned", partition=partition.physical, by=key.name)
            return self._drift_reply(logical.name, False)

        return await self._guarded(context, work)

    # -- bridge ------------------------------------------------------------------------------------

    def _bridge_view(self, record: BridgeRecord) -> Any:
        report = record.report
        verdict = self.bridges.verdict(record)
        view = admin_pb2.BridgeView(
            collection=record.collection,
            from_version=record.source,
            to_version=record.target,
            version=record.version,
            kind=record.kind,
            enabled=record.enabled,
            state=self.bridges.state_of(record),
            dimension_in=record.d_in,
            dimension_out=record.d_out,
            pairs=report.get("pairs", 0),
            fit_pairs=report.get("fit_pairs", 0),
            held_out=report.get("held_out", 0),
            k=report.get("k", 10),
            passed=verdict.passed,
            floor_reasons=verdict.reasons,
            trained_at=record.trained_at,
            trained_by=record.trained_by,
            enabled_at=record.enabled_at,
            min_recall_ratio=self.config.bridge.min_recall_ratio,
            rank=record.rank,
        )
        for data in report.get("sets", []):
            figures = _set_from_dict(data)
            item = view.sets.add(
                name=figures.name,
                queries=figures.queries,
                labelled=figures.labelled,
                reference_recall=figures.reference_recall,
                comparable=figures.no_map is not None,
            )
            if figures.no_map is not None:
                item.no_map.overlap, item.no_map.recall = (
                    figures.no_map.overlap,
                    figures.no_map.recall,
                )
            for kind, f in figures.maps.items():
                item.maps[kind].overlap, item.maps[kind].recall = f.overlap, f.recall
        return view

    async def TrainBridge(self, request: Any, context: Context) -> Any:
        """Fit and judge maps on paired vectors; store the best, disabled."""

        async def work(key: KeyConfig) -> Any:
            record = await self.bridges.train(
                request.collection,
                request.from_version,
                request.to_version,
                holdout=request.holdout,
                fit_share=request.fit_share,
                seed=request.seed,
                k=request.k,
                queries=list(request.queries),
                by=key.name,
            )
            return self._bridge_view(record)

        return await self._guarded(context, work)

    async def EnableBridge(self, request: Any, context: Context) -> Any:
        """Enable a bridge above the floor; refuse it with its figures below."""

        async def work(key: KeyConfig) -> Any:
            record = await self.bridges.enable(
                request.collection, request.from_version, request.to_version, key.name
            )
            return self._bridge_view(record)

        return await self._guarded(context, work)

    async def DisableBridge(self, request: Any, context: Context) -> Any:
        """Back to routing (or refusing) the from-version's searches as without a bridge."""

        async def work(key: KeyConfig) -> Any:
            record = await self.bridges.disable(request.collection, request.from_version)
            return self._bridge_view(record)

        return await self._guarded(context, work)

    async def ListBridges(self, request: Any, context: Context) -> Any:
        """Every bridge, with its state and figures."""

        async def work(key: KeyConfig) -> Any:
            await self.registry.refresh()
            records = await self.bridges.records(request.collection)
            return admin_pb2.ListBridgesReply(bridges=[self._bridge_view(r) for r in records])

        return await self._guarded(context, work)

    async def ExportBridge(self, request: Any, context: Context) -> Any:
        """A bridge's map: float32 weights and bias."""

        async def work(key: KeyConfig) -> Any:
            record, linear = await self.bridges.export(request.collection, request.from_version)
            raw = map_bytes(linear)
            split = record.d_in * record.d_out * 4
            return admin_pb2.BridgeMap(
                version=record.version,
                kind=record.kind,
                dimension_in=record.d_in,
                dimension_out=record.d_out,
                weights=raw[:split],
                bias=raw[split:],
                checksum=record.checksum,
                rank=record.rank,
            )

        return await self._guarded(context, work)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def record_message(record: RequestRecord) -> Any:
    """A request record as the admin API sends it."""
    return admin_pb2.RequestRecord(
        seq=record.seq,
        time=datetime.fromtimestamp(record.at, UTC).isoformat(timespec="milliseconds"),
        method=record.method,
        collection=record.collection,
        logical=record.logical,
        partition=record.partition,
        identity=record.identity,
        identity_source=record.identity_source,
        key=record.key,
        decision=record.decision,
        reason=record.reason,
        status=record.status,
        message=record.message,
        latency_ms=record.latency_ms,
        policy_ms=record.policy_ms,
        backend_ms=record.backend_ms,
        trace_id=record.trace_id,
        span_id=record.span_id,
        sampled=record.sampled,
        points=record.points,
        vectors=record.vectors,
        dimension=record.dimension,
        warnings=record.warnings,
        bridge=record.bridge,
    )


def _scores_view(scores: Any) -> Any:
    from datetime import UTC, datetime

    return admin_pb2.DriftScores(
        at=datetime.fromtimestamp(scores.at, UTC).isoformat(timespec="seconds"),
        vectors=scores.count,
        centroid_distance=scores.centroid_distance,
        threshold=scores.threshold,
        mmd=scores.mmd,
        mmd_p_value=scores.mmd_p_value,
        drifted_share=scores.drifted_share,
        domain_auc=scores.domain_auc,
        alarm=scores.alarm,
    )
