"""The drift watch: streaming statistics per partition, fed off the request path.

After a write succeeds, `offer` puts (partition, written points) on a bounded queue
without waiting (a full queue drops the batch and counts it: a request is never
slowed or blocked by the watch). One background task drains the queue: it reads the
vectors from their wire bytes, updates the partition's `PartitionStats` and
`ReupsertCheck`, scores at most once per `score_interval_seconds`, and logs a
warning when the alarm rises (and a line when it clears).

The statistics are per process: each replica watches the writes it serves, and a
restart starts a new reference. What must be shared (fingerprints, suspect flags)
lives in the backend (`FingerprintBook`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from proxy.config import DriftConfig
from proxy.drift.fingerprints import FingerprintBook
from proxy.drift.reupsert import PointKey, ReupsertCheck, content_hash
from proxy.drift.stats import DriftSettings, PartitionStats, Scores
from proxy.drift.verdict import Verdict, judge
from proxy.envelope import Envelope
from proxy.frontend.ops import Kind
from proxy.registry import Partition
from proxy.wire import packed_matrix

log = structlog.get_logger("vecgate.drift")

#: The watch may save up (and starts with) its CPU share of this many seconds of one
#: core: 0.1 s at the default 2 %, where the reference window, its calibration and a
#: first scoring fit.
CPU_BURST_SECONDS = 5.0


def settings_of(config: DriftConfig) -> DriftSettings:
    """The detector settings a configuration asks for."""
    return DriftSettings(
        reference_size=config.reference_size,
        window=config.window,
        reservoir=config.reservoir,
        margin=config.margin,
        mmd_alpha=config.mmd_alpha,
    )


@dataclass(slots=True)
class Watched:
    """One partition under watch."""

    partition: Partition
    stats: PartitionStats
    reupserts: ReupsertCheck | None
    skipped: int = 0  # written points whose vector is not the unnamed dense one
    last_scored_at: float = -math.inf
    last_scored_count: int = 0
    alarm_since: float | None = None  # time.time() the alarm rose
    alarm_count: int = 0  # vector count when it rose
    alarms: int = 0


@dataclass(slots=True)
class Counters:
    """What the watch did with the batches offered to it."""

    offered: int = 0
    dropped: int = 0
    processed: int = 0
    vectors: int = 0
    unwatched: int = 0  # batches of partitions beyond max_partitions
    skipped: int = 0  # batches passed over to stay under max_vectors_per_second or cpu_share
    cpu_seconds: float = 0.0  # the watch's own CPU time (intake and scoring)
    failed: int = 0


@dataclass(slots=True)
class DriftWatch:
    """Bounded queue + background drain + per-partition statistics."""

    config: DriftConfig
    fingerprints: FingerprintBook
    counters: Counters = field(default_factory=Counters)
    watched: dict[str, Watched] = field(default_factory=dict)
    #: (partition, written points, their vectors when the upsert's read has them)
    queue: asyncio.Queue[tuple[Partition, list[Any], Any]] = field(init=False)

    tokens: float = 0.0
    refilled: float = field(default_factory=time.monotonic)
    credit: float = 0.0  # CPU seconds the watch may still spend
    process_cpu: float = field(default_factory=time.process_time)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.config.queue_batches)
        self.tokens = self.config.max_vectors_per_second
        self.credit = self.config.cpu_share * CPU_BURST_SECONDS

    def _admit(self, vectors: int) -> bool:
        """Both budgets: CPU (`cpu_share`) and vectors (`max_vectors_per_second`)."""
        return self._afford() and self._take(vectors)

    def _afford(self) -> bool:
        """CPU bucket: credit grows by cpu_share of the process's CPU time since the last
        look (capped at cpu_share x CPU_BURST_SECONDS); the watch spends what it measures
        (thread CPU time of its intake and of its scorings)."""
        share = self.config.cpu_share
        if not share:
            return True
        now = time.process_time()
        burst = share * CPU_BURST_SECONDS
        self.credit = min(burst, self.credit + (now - self.process_cpu) * share)
        self.process_cpu = now
        return self.credit > 0.0

    def _spend(self, seconds: float) -> None:
        self.credit -= seconds
        self.counters.cpu_seconds += seconds

    def _take(self, vectors: int) -> bool:
        """Token bucket: at most max_vectors_per_second on average (one second of burst)."""
        rate = self.config.max_vectors_per_second
        if not rate:
            return True
        now = time.monotonic()
        self.tokens = min(rate, self.tokens + (now - self.refilled) * rate)
        self.refilled = now
        if self.tokens < min(vectors, rate):
            return False
        self.tokens -= vectors
        return True

    # -- request path: O(1), never waits ------------------------------------------------

    def offer(self, env: Envelope) -> None:
        """Hand a succeeded write's points to the watch; drop (and count) when full."""
        partition = env.partition
        if partition is None or not env.written or env.op.kind is not Kind.WRITE:
            return
        self.counters.offered += 1
        if not self._admit(len(env.written)):
            self.counters.skipped += 1
            return
        try:
            self.queue.put_nowait((partition, env.written.points, _read_rows(env, partition)))
        except asyncio.QueueFull:
            self.counters.dropped += 1

    # -- background ---------------------------------------------------------------------

    async def run(self) -> None:
        """Drain the queue until cancelled; a due scoring runs in a worker thread."""
        while True:
            partition, points, rows = await self.queue.get()
            try:
                started = time.thread_time()
                due = self.process(partition, points, rows=rows)
                self._spend(time.thread_time() - started)
                if due is not None:
                    await self.score(due)
            except Exception:  # a bug must not stop the watch; it is logged and counted
                self.counters.failed += 1
                log.exception("drift watch failed on a batch", partition=partition.physical)
            self.counters.processed += 1

    async def idle(self) -> None:
        """Wait until every batch offered so far is processed (tests, benchmarks)."""
        while self.queue.qsize():
            await asyncio.sleep(0.01)

    def process(
        self, partition: Partition, points: list[Any], now: float | None = None, rows: Any = None
    ) -> Watched | None:
        """Update one partition's statistics with a written batch.

        Returns the partition when a scoring is due (the caller runs `score`): at most
        one per `score_interval_seconds` (`suspect_interval_seconds` while the centroid
        distance, checked on every batch, is over its threshold and no alarm is up), and
        only when vectors came in since the last.
        """
        spec = partition.vectors.get("")
        if spec is None or spec.size is None or spec.multivector:
            return None
        watched = self._watched(partition, spec.size)
        if watched is None:
            self.counters.unwatched += 1
            return None
        if rows is None or rows.shape[1] != spec.size:  # not read by the gateway already
            rows = packed_matrix([p.vectors.vector.dense for p in points], spec.size)
        if rows is None:  # some points are named, sparse or multi: keep the dense ones
            keep = [
                p
                for p in points
                if p.vectors.WhichOneof("vectors_options") == "vector"
                and p.vectors.vector.WhichOneof("vector") == "dense"
                and len(p.vectors.vector.dense.data) == spec.size
            ]
            watched.skipped += len(points) - len(keep)
            points = keep
            rows = packed_matrix([p.vectors.vector.dense for p in points], spec.size)
            if rows is None or not len(rows):
                return None
        stats = watched.stats
        if watched.reupserts is not None:
            self._reupserts(watched.reupserts, points, rows, stats.count)
        stats.add(rows)
        self.counters.vectors += len(rows)
        now = time.time() if now is None else now
        if not stats.ready or stats.count <= watched.last_scored_count:
            return None
        interval = self.config.score_interval_seconds
        if watched.alarm_since is None and stats.centroid_now() > stats.threshold:
            interval = min(interval, self.config.suspect_interval_seconds)
        if now - watched.last_scored_at >= interval:
            watched.last_scored_at, watched.last_scored_count = now, stats.count
            return watched
        return None

    async def score(self, watched: Watched) -> None:
        """Score a partition off the event loop; keep the result unless it was re-pinned."""
        stats = watched.stats
        started = stats.reference_started
        scores, seconds = await asyncio.to_thread(_timed, stats.evaluate, watched.last_scored_at)
        self._spend(seconds)
        if scores is not None and stats.reference_started == started:
            stats.record(scores)
            self._alarm(watched, scores)

    def _watched(self, partition: Partition, dim: int) -> Watched | None:
        watched = self.watched.get(partition.physical)
        if watched is not None and watched.stats.dim == dim:
            watched.partition = partition
            return watched
        if watched is None and len(self.watched) >= self.config.max_partitions:
            return None
        settings = settings_of(self.config)
        field_name = self.config.text_field
        watched = Watched(
            partition,
            PartitionStats(dim, settings, seed=len(self.watched)),
            ReupsertCheck(dim, self.config.reupsert_capacity, self.config.reupsert_min_cosine)
            if field_name
            else None,
        )
        self.watched[partition.physical] = watched
        return watched

    def _reupserts(self, check: ReupsertCheck, points: list[Any], rows: Any, count: int) -> None:
        field_name = self.config.text_field
        ids: list[PointKey] = [p.id.uuid or p.id.num for p in points]
        hashes = [_text_hash(p, field_name) for p in points]
        if any(h is not None for h in hashes):
            check.observe(ids, hashes, rows, count)

    def _alarm(self, watched: Watched, scores: Scores) -> None:
        label = f"{watched.partition.logical}/{watched.partition.label()}"
        if scores.alarm and watched.alarm_since is None:
            watched.alarm_since = scores.at
            watched.alarm_count = scores.count
            watched.alarms += 1
            verdict = self.verdict(watched)
            log.warning(
                "drift alarm",
                collection=watched.partition.logical,
                version=watched.partition.label(),
                partition=watched.partition.physical,
                centroid_distance=round(scores.centroid_distance, 4),
                threshold=round(scores.threshold, 4),
                mmd_p_value=round(scores.mmd_p_value, 4),
                drifted_share=round(scores.drifted_share, 3),
                domain_auc=round(scores.domain_auc, 3),
                verdict=verdict.kind,
                evidence=verdict.evidence,
                next_step=verdict.next_step,
            )
        elif not scores.alarm and watched.alarm_since is not None:
            watched.alarm_since = None
            log.info("drift alarm cleared", partition=label)

    # -- reading ------------------------------------------------------------------------

    def verdict(self, watched: Watched) -> Verdict:
        """The alarm's meaning given re-upserts and fingerprints since the shift began."""
        stats = watched.stats
        window = stats.settings.window
        alarm = watched.alarm_since is not None
        if alarm:
            onset, flagged = watched.alarm_count - window, watched.alarm_count
        else:
            onset, flagged = stats.count - 2 * window, stats.count + 1
        checked, diverged = (
            watched.reupserts.evidence(onset, flagged) if watched.reupserts else (0, 0)
        )
        identities = list(watched.partition.binding.values())
        suspect = any(self.fingerprints.is_suspect(i) for i in identities)
        verified = False
        if alarm and watched.alarm_since is not None:
            for identity in identities:
                record = self.fingerprints.get(identity)
                if record and record.last_passed and record.last_check:
                    checked_at = _epoch(record.last_check)
                    verified = verified or checked_at >= watched.alarm_since - 1.0
        return judge(
            identity=watched.partition.label(),
            ready=stats.ready,
            alarm=alarm,
            reupserts_checked=checked,
            reupserts_diverged=diverged,
            suspect=suspect,
            verified_ok_since_onset=verified,
        )

    def pin(self, physical: str) -> bool:
        """Start a new reference for a partition (False if it is not watched here)."""
        watched = self.watched.get(physical)
        if watched is None:
            return False
        watched.stats.pin()
        watched.alarm_since = None
        watched.last_scored_count = watched.stats.count
        return True

    def gauges(self) -> dict[str, dict[str, float]]:
        """Current figures per watched partition, for a metrics exporter.

        Keyed by ``<collection>/<version>``; every value a float (NaN before scoring).
        ``_watch`` holds the queue counters.
        """
        out: dict[str, dict[str, float]] = {}
        for watched in self.watched.values():
            stats, last = watched.stats, watched.stats.last
            reup = watched.reupserts
            out[f"{watched.partition.logical}/{watched.partition.label()}"] = {
                "vectors": float(stats.count),
                "centroid_distance": last.centroid_distance if last else math.nan,
                "threshold": stats.threshold,
                "mmd": last.mmd if last else math.nan,
                "mmd_p_value": last.mmd_p_value if last else math.nan,
                "drifted_share": last.drifted_share if last else math.nan,
                "domain_auc": last.domain_auc if last else math.nan,
                "alarm": 1.0 if watched.alarm_since is not None else 0.0,
                "reupserts_checked": float(reup.checked if reup else 0),
                "reupserts_diverged": float(reup.diverged if reup else 0),
                "norm_mean": stats.norms.mean,
                "memory_bytes": float(stats.memory_bytes + (reup.memory_bytes if reup else 0)),
            }
        c = self.counters
        out["_watch"] = {
            "offered": float(c.offered),
            "dropped": float(c.dropped),
            "processed": float(c.processed),
            "queued": float(self.queue.qsize()),
            "vectors": float(c.vectors),
            "unwatched": float(c.unwatched),
            "skipped": float(c.skipped),
            "cpu_seconds": c.cpu_seconds,
            "failed": float(c.failed),
        }
        return out


def _timed(evaluate: Callable[[float], Scores | None], at: float) -> tuple[Scores | None, float]:
    """Run a scoring in this (worker) thread; also say how much CPU it took."""
    started = time.thread_time()
    scores = evaluate(at)
    return scores, time.thread_time() - started


def _text_hash(point: Any, field_name: str) -> int | None:
    """The content hash of a point's text field (None: no text, or no payload at all)."""
    payload = getattr(point, "payload", None)
    value = payload.get(field_name) if payload is not None else None
    text = value.string_value if value is not None else ""
    return content_hash(text) if text else None


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _read_rows(env: Envelope, partition: Partition) -> Any:
    """An upsert's vectors as the gateway already read them (`env.packed`), or None."""
    spec = partition.vectors.get("")
    if env.packed is None or spec is None or spec.size is None or spec.multivector:
        return None
    return env.packed.matrix(spec.size)
