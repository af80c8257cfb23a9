"""Streaming statistics of one partition's vectors, in memory bounded whatever its size.

Per partition (physical index), for its unnamed dense vector:

- count, running mean (a float64 sum) and the norm distribution (Welford mean and
  variance, min, max; quantiles from the reservoir);
- a reservoir sample (Algorithm R) of `reservoir` vectors of everything seen;
- the reference window: the first `reference_size` vectors (or, after `pin()`, the
  next `reference_size` vectors), with its mean and a calibrated alarm threshold;
- the recent window: a ring of the last `window` vectors.

Memory: (reference_size + window + reservoir) x dim float32, whatever the count.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from proxy.drift.scores import centroid_distance, domain_auc, drifted_share, mmd

Floats = npt.NDArray[np.float32]

#: Sub-windows drawn from the reference to calibrate the centroid threshold.
CALIBRATION_DRAWS = 200
#: Reference rows the sample-based scores (MMD, KS, AUC) compare with the recent window.
SCORE_REFERENCE_ROWS = 200


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """Window sizes and alarm rule of the streaming detector."""

    reference_size: int = 500
    window: int = 100
    reservoir: int = 256
    #: The centroid alarm fires above margin x the 99th percentile of the calibration.
    margin: float = 1.5
    #: ... and only when the MMD permutation p-value is below this.
    mmd_alpha: float = 0.01
    permutations: int = 200
    history: int = 500


@dataclass(frozen=True, slots=True)
class Scores:
    """One evaluation of the recent window against the reference."""

    at: float  # time.time()
    count: int  # vectors seen when scored
    centroid_distance: float
    threshold: float
    mmd: float
    mmd_p_value: float
    drifted_share: float
    domain_auc: float
    alarm: bool


@dataclass(slots=True)
class NormStats:
    """Welford running mean and variance of vector norms, with extremes."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, norms: npt.NDArray[np.float64]) -> None:
        """Merge a batch of norms (Chan et al.'s parallel update)."""
        n = len(norms)
        if n == 0:
            return
        batch_mean = float(norms.mean())
        batch_m2 = float(((norms - batch_mean) ** 2).sum())
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta * delta * self.count * n / total
        self.count = total
        self.low = min(self.low, float(norms.min()))
        self.high = max(self.high, float(norms.max()))

    @property
    def std(self) -> float:
        """Population standard deviation (0 before two norms)."""
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 0.0


@dataclass(slots=True)
class PartitionStats:
    """Bounded streaming statistics of one partition (see the module docstring)."""

    dim: int
    settings: DriftSettings = field(default_factory=DriftSettings)
    seed: int = 0
    count: int = 0
    total: npt.NDArray[np.float64] = field(init=False)
    norms: NormStats = field(default_factory=NormStats)
    reference: Floats = field(init=False)
    reference_filled: int = 0
    reference_mean: npt.NDArray[np.float64] | None = None
    threshold: float = math.nan
    reference_started: int = 0  # count when the reference began filling
    recent: Floats = field(init=False)
    recent_filled: int = 0
    recent_next: int = 0
    reservoir: Floats = field(init=False)
    reservoir_filled: int = 0
    history: deque[Scores] = field(init=False)
    last: Scores | None = None
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.total = np.zeros(self.dim)
        self.reference = np.empty((s.reference_size, self.dim), dtype=np.float32)
        self.recent = np.empty((s.window, self.dim), dtype=np.float32)
        self.reservoir = np.empty((s.reservoir, self.dim), dtype=np.float32)
        self.history = deque(maxlen=s.history)
        self.rng = np.random.default_rng(self.seed)

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the sample arrays (the bound, whatever the count)."""
        return self.reference.nbytes + self.recent.nbytes + self.reservoir.nbytes

    @property
    def ready(self) -> bool:
        """Whether the reference is complete and the recent window full."""
        return self.reference_mean is not None and self.recent_filled == self.settings.window

    def add(self, rows: Floats) -> None:
        """Take a batch of vectors (rows of `dim` float32)."""
        n = len(rows)
        if n == 0:
            return
        self.total += rows.sum(axis=0, dtype=np.float64)
        self.norms.add(np.linalg.norm(rows, axis=1).astype(np.float64))
        self._reservoir(rows)
        taken = self._reference(rows)
        if taken < n:  # rows after the reference fill the recent window
            self._recent(rows[taken:])
        self.count += n

    def pin(self) -> None:
        """Start a new reference: the next `reference_size` vectors."""
        self.reference_filled = 0
        self.reference_mean = None
        self.threshold = math.nan
        self.recent_filled = self.recent_next = 0
        self.reference_started = self.count

    def _reservoir(self, rows: Floats) -> None:
        size = self.settings.reservoir
        free = min(size - self.reservoir_filled, len(rows))
        if free > 0:
            self.reservoir[self.reservoir_filled : self.reservoir_filled + free] = rows[:free]
            self.reservoir_filled += free
        if free >= len(rows):
            return
        seen = self.count + free + np.arange(len(rows) - free)  # index of each later row
        slots = (self.rng.random(len(seen)) * (seen + 1)).astype(np.int64)
        taken = np.flatnonzero(slots < size)
        if not len(taken):
            return
        # Algorithm R in one assignment: where rows of this batch land on one slot, the
        # last of them is the one Algorithm R row by row would leave there.
        reversed_slots = slots[taken][::-1]
        _, first = np.unique(reversed_slots, return_index=True)
        last = taken[::-1][first]
        self.reservoir[slots[last]] = rows[free:][last]

    def _reference(self, rows: Floats) -> int:
        size = self.settings.reference_size
        if self.reference_mean is not None:
            return 0
        taken = min(size - self.reference_filled, len(rows))
        self.reference[self.reference_filled : self.reference_filled + taken] = rows[:taken]
        self.reference_filled += taken
        if self.reference_filled == size:
            self.reference_mean = self.reference.mean(axis=0, dtype=np.float64)
            self.threshold = self._calibrate()
        return taken

    def _recent(self, rows: Floats) -> None:
        window = self.settings.window
        rows = rows[-window:]
        end = self.recent_next + len(rows)
        if end <= window:
            self.recent[self.recent_next : end] = rows
        else:
            split = window - self.recent_next
            self.recent[self.recent_next :] = rows[:split]
            self.recent[: end - window] = rows[split:]
        self.recent_next = end % window
        self.recent_filled = min(window, self.recent_filled + len(rows))

    def _calibrate(self) -> float:
        """margin x the 99th percentile of window-sized reference draws vs the rest's mean.

        How far a recent window of the same content and model lands from the reference
        mean depends on the model (its anisotropy) and the content's spread: measuring
        it on the reference itself makes the threshold fit the partition.
        """
        s = self.settings
        window = min(s.window, s.reference_size // 2)
        rng = np.random.default_rng(self.seed + 1)
        reference = self.reference.astype(np.float64)
        picks = np.zeros((CALIBRATION_DRAWS, s.reference_size))
        for draw in range(CALIBRATION_DRAWS):
            picks[draw, rng.choice(s.reference_size, window, replace=False)] = 1.0
        parts = picks @ reference / window  # each draw's mean, one product for all draws
        rests = (reference.sum(axis=0) - parts * window) / (s.reference_size - window)
        cosines = np.einsum("ij,ij->i", parts, rests) / (
            np.linalg.norm(parts, axis=1) * np.linalg.norm(rests, axis=1)
        )
        return s.margin * float(np.quantile(1.0 - cosines, 0.99))

    def recent_rows(self) -> Floats:
        """The recent window's rows (oldest first is not guaranteed)."""
        return self.recent[: self.recent_filled]

    def centroid_now(self) -> float:
        """Centroid distance of the recent window (NaN until ready); cheap."""
        if not self.ready or self.reference_mean is None:
            return math.nan
        return centroid_distance(self.reference_mean, self.recent_rows())

    def score(self, now: float | None = None) -> Scores | None:
        """Evaluate every score on the current windows and record it (None until ready)."""
        scores = self.evaluate(now)
        if scores is not None:
            self.record(scores)
        return scores

    def evaluate(self, now: float | None = None) -> Scores | None:
        """Every score on the current windows, recording nothing (None until ready).

        Reads the sample arrays only, so it may run in a worker thread while no batch
        is added (the watch's drain task waits for it).
        """
        reference_mean = self.reference_mean
        if not self.ready or reference_mean is None:
            return None
        s = self.settings
        recent = self.recent_rows().copy()
        reference = self.reference[: min(SCORE_REFERENCE_ROWS, s.reference_size)]
        centroid = centroid_distance(reference_mean, recent)
        statistic, p_value = mmd(
            reference,
            recent,
            permutations=s.permutations,
            rng=np.random.default_rng(self.seed + self.count),
            alpha=s.mmd_alpha,
        )
        return Scores(
            at=time.time() if now is None else now,
            count=self.count,
            centroid_distance=centroid,
            threshold=self.threshold,
            mmd=statistic,
            mmd_p_value=p_value,
            drifted_share=drifted_share(reference, recent),
            domain_auc=domain_auc(reference, recent),
            alarm=centroid > self.threshold and p_value < s.mmd_alpha,
        )

    def record(self, scores: Scores) -> None:
        """Keep an evaluation as the latest and in the history."""
        self.last = scores
        self.history.append(scores)

    def norm_quantiles(self) -> list[float]:
        """Norm quantiles 5, 25, 50, 75, 95 % of the reservoir (empty before any vector)."""
        if not self.reservoir_filled:
            return []
        norms = np.linalg.norm(self.reservoir[: self.reservoir_filled], axis=1)
        return [float(q) for q in np.quantile(norms, [0.05, 0.25, 0.5, 0.75, 0.95])]

    def cosines_to_reference(self) -> tuple[list[float], list[float]]:
        """Cosine of each reference row and each recent row to the reference mean."""
        if self.reference_mean is None:
            return [], []
        unit = self.reference_mean / (np.linalg.norm(self.reference_mean) or 1.0)

        def cosines(rows: Floats) -> list[float]:
            norms = np.linalg.norm(rows, axis=1)
            norms[norms == 0] = 1.0
            return [round(float(c), 5) for c in (rows @ unit) / norms]

        return cosines(self.reference), cosines(self.recent_rows())
