"""The bridge's admin side: train, enable, disable, list, export, and drop.

Training reads both partitions (every point id and vector, like the backfill's scan),
pairs the points present under both versions, and fits and judges maps off the event
loop (`proxy.bridge.fit`). The result is stored as the bridge's next map version,
disabled: enabling it is a separate, explicit step that the floor can refuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from qdrant_client.grpc import points_pb2 as ppb

from adapters.base import Backend
from proxy.bridge.fit import EvalSet, Figures, LinearMap, SetReport, Training, Verdict, judge, train
from proxy.bridge.record import BridgeRecord, BridgeStore, checksum
from proxy.config import Config
from proxy.errors import FailedPrecondition, InvalidArgument, NotFound, Unimplemented
from proxy.identity import Identity
from proxy.migrations import now
from proxy.registry import LogicalCollection, Partition, Registry

SCAN_PAGE = 1000
MIN_PAIRS = 20


class Bridges:
    """Bridges of every collection, kept in the backend with the routing state."""

    def __init__(self, config: Config, backend: Backend, registry: Registry) -> None:
        self.config = config
        self.backend = backend
        self.registry = registry
        self.store: BridgeStore = registry.bridge_store

    # -- reading ----------------------------------------------------------------------------

    async def record(self, collection: str, source: str) -> BridgeRecord:
        """The bridge of `collection` from `source`, or NOT_FOUND."""
        identity = self._parse(source, "from_version")
        record = await self.store.get(collection, str(identity))
        if record is None:
            raise NotFound(
                f"collection `{collection}` has no bridge from {identity}; train one with "
                f"`vecgate bridge train {collection} --from {identity} --to <model>@<version>`",
                reason="no_bridge",
            )
        return record

    async def records(self, collection: str = "") -> list[BridgeRecord]:
        """Every bridge (of one collection), sorted."""
        found = [r for r in await self.store.all() if not collection or r.collection == collection]
        return sorted(found, key=lambda r: (r.collection, r.source))

    def state_of(self, record: BridgeRecord) -> str:
        """enabled, disabled, or stale (its answering partition is gone or retired)."""
        state = self.registry.state
        target = state.by_physical.get(record.target_physical)
        source = state.by_physical.get(record.source_physical)
        if target is None or target.created != record.target_created or target.retired:
            return "stale"
        if source is not None and source.retired:
            return "stale"
        return "enabled" if record.enabled else "disabled"

    def verdict(self, record: BridgeRecord) -> Verdict:
        """The floor applied now (the configured ratio) to the figures of its training."""
        reports = [_set_from_dict(s) for s in record.report.get("sets", [])]
        if not reports:
            return Verdict(False, ["the bridge has no training figures"])
        return judge(record.kind, reports, self.config.bridge.min_recall_ratio)

    # -- train ------------------------------------------------------------------------------

    async def train(
        self,
        collection: str,
        source_text: str,
        target_text: str,
        *,
        holdout: float,
        fit_share: float,
        seed: int,
        k: int,
        queries: Sequence[Any],
        by: str,
    ) -> BridgeRecord:
        """Fit, judge and store the next map of a bridge (disabled)."""
        source_id = self._parse(source_text, "from_version")
        target_id = self._parse(target_text, "to_version")
        if source_id == target_id:
            raise InvalidArgument("a bridge joins two different versions; --from equals --to")
        holdout = holdout or self.config.bridge.holdout
        if not 0 < holdout < 1 or not 0 <= fit_share < 1 or holdout + fit_share > 1:
            raise InvalidArgument(
                "holdout must be in (0, 1), fit_share in [0, 1), and together at most 1",
                reason="bad_split",
            )
        await self.registry.refresh()
        logical = self.registry.resolve(collection)
        source = _single(logical, source_id, "from")
        target = _single(logical, target_id, "to")
        name, distance = _shape(source, target)
        ids, old_index = await self._vectors(target, name)
        source_ids, new_vectors = await self._vectors(source, name)
        rows = {point_id: row for row, point_id in enumerate(ids)}
        paired = [(i, rows[p]) for i, p in enumerate(source_ids) if p in rows]
        if len(paired) < MIN_PAIRS:
            raise FailedPrecondition(
                f"`{logical.name}` has {len(paired)} points under both {source_id} and "
                f"{target_id} (same point id); a bridge needs at least {MIN_PAIRS}: backfill "
                f"some points under {source_id} first",
                reason="few_pairs",
            )
        new_rows = np.array([i for i, _ in paired], dtype=np.int64)
        pair_rows = np.array([r for _, r in paired], dtype=np.int64)
        golden = _golden(queries, rows, new_vectors.shape[1], old_index.shape[1])
        training = await asyncio.to_thread(
            train,
            new_vectors[new_rows],
            old_index[pair_rows],
            pair_rows,
            old_index,
            distance,
            queries=golden,
            k=k or 10,
            holdout=holdout,
            fit_share=fit_share,
            seed=seed,
            min_recall_ratio=self.config.bridge.min_recall_ratio,
            rank_tolerance=self.config.bridge.rank_tolerance,
        )
        previous = await self.store.get(logical.name, str(source_id))
        record = _record(logical.name, (source, target), name, distance, training)
        record.version = previous.version + 1 if previous is not None else 1
        record.trained_at, record.trained_by = now(), by
        record.report.update(k=k or 10, seed=seed, holdout=holdout, fit_share=fit_share)
        await self.store.put_map(record, training.chosen)
        await self.store.put(record)
        if previous is not None and previous.version != record.version:
            await self.store.delete_map(previous, previous.version, previous.chunks)
        await self.registry.refresh()
        return record

    async def _vectors(self, partition: Partition, name: str) -> tuple[list[str], np.ndarray]:
        """Every point id of a partition and its vector `name`, in scroll order."""
        ids: list[str] = []
        rows: list[Any] = []
        offset: Any = None
        while True:
            request = ppb.ScrollPoints(collection_name=partition.physical, limit=SCAN_PAGE)
            request.with_payload.enable = False
            request.with_vectors.enable = True
            if offset is not None:
                request.offset.CopyFrom(offset)
            reply = await self.backend.handle("/qdrant.Points/Scroll", request)
            for point in reply.result:
                vector = _dense(point.vectors, name)
                if vector is not None:
                    ids.append(point.id.SerializeToString().hex())
                    rows.append(vector)
            if not reply.HasField("next_page_offset"):
                break
            offset = reply.next_page_offset
        size = partition.vectors[name].size or 0
        matrix = np.array(rows, dtype=np.float32) if rows else np.empty((0, size), np.float32)
        return ids, matrix

    # -- enable, disable --------------------------------------------------------------------

    async def enable(self, collection: str, source: str, target: str, by: str) -> BridgeRecord:
        """Enable a bridge whose map clears the floor; refused with the figures otherwise."""
        await self.registry.refresh()
        record = await self.record(collection, source)
        if target and str(self._parse(target, "to_version")) != record.target:
            raise InvalidArgument(
                f"the bridge of `{collection}` from {record.source} maps into {record.target}, "
                f"not {target}; train one into {target} first",
                reason="bridge_target",
            )
        if self.state_of(record) == "stale":
            raise FailedPrecondition(
                f"bridge {record.label()} of `{collection}` joins a partition that is retired "
                "or gone; train a new one",
                reason="bridge_stale",
            )
        verdict = self.verdict(record)
        if not verdict.passed:
            raise FailedPrecondition(
                f"bridge {record.label()} of `{collection}` is below the floor: "
                + "; ".join(verdict.reasons)
                + f". Figures: {figures_text(record)}",
                reason="bridge_floor",
            )
        record.enabled, record.enabled_at = True, now()
        await self.store.put(record)
        await self.registry.refresh()
        return record

    async def disable(self, collection: str, source: str) -> BridgeRecord:
        """Disable a bridge: its from-version's searches are refused (or routed) again."""
        record = await self.record(collection, source)
        record.enabled = False
        await self.store.put(record)
        await self.registry.refresh()
        return record

    async def export(self, collection: str, source: str) -> tuple[BridgeRecord, LinearMap]:
        """A bridge's record and its map."""
        record = await self.record(collection, source)
        return record, await self.store.load_map(record)

    def _parse(self, text: str, where: str) -> Identity:
        if not text:
            raise InvalidArgument(f"{where} is required: name@version", reason="bad_identity")
        return self.config.pin_policy().parse(text, where=where)


# -- helpers --------------------------------------------------------------------------------


def _single(logical: LogicalCollection, identity: Identity, side: str) -> Partition:
    found = next((p for p in logical.partitions if set(p.binding.values()) == {identity}), None)
    if found is None:
        raise FailedPrecondition(
            f"collection `{logical.name}` has no partition built by {identity} (--{side}); "
            f"it holds {logical.versions_text()}",
            reason="no_partition",
        )
    if found.retired:
        raise FailedPrecondition(
            f"{identity} of `{logical.name}` is retired; a bridge cannot join it",
            reason="retired",
        )
    return found


def _shape(source: Partition, target: Partition) -> tuple[str, str]:
    """The one dense vector name both partitions share, and the answering distance."""
    if len(source.vectors) != 1 or set(source.vectors) != set(target.vectors):
        raise Unimplemented(
            f"bridges join partitions with one vector of the same name; {source.label()} has "
            f"{sorted(source.vectors)} and {target.label()} {sorted(target.vectors)}"
        )
    (name,) = source.vectors
    for spec in (source.vectors[name], target.vectors[name]):
        if spec.sparse or spec.multivector:
            raise Unimplemented("bridges map dense vectors only (not sparse or multi-vectors)")
    return name, target.vectors[name].distance


def _dense(vectors: Any, name: str) -> Any:
    which = vectors.WhichOneof("vectors_options")
    if which == "vector" and name == "":
        vector = vectors.vector
    elif which == "vectors" and name in vectors.vectors.vectors:
        vector = vectors.vectors.vectors[name]
    else:
        return None
    return vector.dense.data if vector.HasField("dense") else vector.data


def _golden(queries: Sequence[Any], rows: dict[str, int], d_in: int, d_out: int) -> EvalSet | None:
    """Golden queries as an evaluation set; labels name points of the to-version."""
    if not queries:
        return None
    from proxy.migrations import _decode_cursor

    new, old, labels = [], [], []
    for i, query in enumerate(queries):
        if len(query.from_vector) != d_in or len(query.to_vector) != d_out:
            raise InvalidArgument(
                f"queries[{i}]: from_vector has {len(query.from_vector)} dimensions and "
                f"to_vector {len(query.to_vector)}; the versions make {d_in} and {d_out}",
                reason="wrong_dimension",
            )
        new.append(query.from_vector)
        old.append(query.to_vector)
        wanted = {_decode_cursor(t).SerializeToString().hex() for t in query.relevant_ids if t}
        labels.append({rows[p] for p in wanted if p in rows})
    return EvalSet("queries", np.array(new, np.float32), np.array(old, np.float32), labels)


def _record(
    collection: str, pair: tuple[Partition, Partition], name: str, distance: str, t: Training
) -> BridgeRecord:
    source, target = pair
    d_in, d_out = t.chosen.dims
    return BridgeRecord(
        collection=collection,
        source=source.label(),
        target=target.label(),
        source_physical=source.physical,
        source_created=source.created,
        target_physical=target.physical,
        target_created=target.created,
        vector_name=name,
        distance=distance,
        d_in=d_in,
        d_out=d_out,
        version=0,
        kind=t.chosen.kind,
        rank=t.chosen.rank,
        checksum=checksum(t.chosen),
        chunks=0,
        report={
            "pairs": t.pairs_total,
            "fit_pairs": t.fit_pairs,
            "held_out": t.held_out,
            "sets": [asdict(r) for r in t.reports],
        },
    )


def _set_from_dict(data: dict[str, Any]) -> SetReport:
    no_map = data.get("no_map")
    return SetReport(
        name=data["name"],
        queries=data["queries"],
        labelled=data["labelled"],
        reference_recall=data["reference_recall"],
        no_map=Figures(**no_map) if no_map else None,
        maps={kind: Figures(**f) for kind, f in data["maps"].items()},
    )


def figures_text(record: BridgeRecord) -> str:
    """The chosen map against no map on every set, in one line."""
    parts = []
    for data in record.report.get("sets", []):
        report = _set_from_dict(data)
        mine = report.maps[record.kind]
        none = (
            f"{report.no_map.overlap:.3f}/{report.no_map.recall:.3f}"
            if report.no_map is not None
            else "not comparable"
        )
        parts.append(
            f"{report.name} ({report.queries}): {record.kind} overlap/recall "
            f"{mine.overlap:.3f}/{mine.recall:.3f}, no map {none}, "
            f"{record.target}'s own recall {report.reference_recall:.3f}"
        )
    return "; ".join(parts)
