"""Fitting and judging bridge maps on paired vectors, with numpy only.

A map sends a vector `x` of the "from" version (the new model) into the space of the
"to" version (the old model, whose index answers): ``y = x @ weights + bias``.

Candidates (all closed form):

- ``procrustes``: orthogonal (semi-orthogonal when the dimensions differ)
  ``W = U Vᵀ`` from the SVD of ``XᵀY``; no bias.
- ``ridge``: ridge least squares with a bias, ``min ‖[X 1]W - Y‖² + λ‖W‖²`` (λ 0.1;
  the bias is not shrunk). The map for different dimensions (mpnet 768 → MiniLM 384).
- ``ridge_identity`` (same dimensions only): ``min ‖XW - Y‖² + λ‖W - I‖²`` (λ 1),
  shrunk toward "no map", which wins when pairs are few.

A chosen map of equal dimensions is then made low-rank where that costs (almost)
nothing: ``W = I + U V`` with the smallest rank (8 to d/4) whose held-out pair overlap
is within `rank_tolerance` of the dense map's, applied as ``x + (x U) V + b``. A
384 x 384 float32 map is 590 KB, read back from memory on every query after the
search's scan has evicted it; rank 16 is 48 KB (docs/decisions.md, "bridge maps").
A map that stays dense (any other shape, or a square one no low rank fits) has each
column's weights rounded to 255 steps of its largest magnitude (int8 and one scale per
column), a quarter of the float32 bytes to read per query (decision 53); either way the
figures shown are those of the map as it will answer.

Judged on held-out pairs (and on golden queries when given) against no map at all:
top-k overlap with what the "to" version's own vectors retrieve, and recall@k against
labels (a held-out pair's label is its own point).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from proxy import _mapkernel

Matrix = NDArray[np.float32]

RIDGE_LAMBDA = 0.1
IDENTITY_LAMBDA = 1.0
#: Ranks tried for a low-rank residual map, smallest first (only up to d/4: beyond it
#: the two factors are no longer much smaller than the dense matrix).
RANKS = (8, 16, 32, 64, 96)
RANK_TOLERANCE = 0.005


@dataclass(frozen=True)
class Int8Weights:
    """A map's weights as ``q * scale`` (q int8 in [-127, 127], one scale per column),
    laid out for `proxy/_mapkernel.c` (`int8_form`)."""

    blocks: NDArray[np.int8]  # (ceil(d_out / 128), ceil(d_in / 4), 128, 4), zero-padded
    scales: Matrix  # (d_out,)
    sums: NDArray[np.int32]  # (d_out,): the sum of q over each column


@dataclass(frozen=True)
class LinearMap:
    """``y = x @ weights + bias``, float32.

    With `rank` > 0, ``weights = I + U V`` (U: d x rank, V: rank x d) and the map is
    applied in that form; `weights` stays the dense matrix, as stored and exported. A
    dense map whose weights are all int8 steps of a scale per column (`int8_weights`) is
    read in that form (`int8_form`) by `apply_wire`: a quarter of the bytes.
    """

    kind: str
    weights: Matrix  # (d_in, d_out)
    bias: Matrix  # (d_out,)
    rank: int = 0
    _factors: tuple[Matrix, Matrix] | None = field(init=False, repr=False, compare=False)
    _bias: Matrix | None = field(init=False, repr=False, compare=False)
    _kernel: _mapkernel.Kernel = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        factors = residual_factors(self.weights, self.rank) if self.rank else None
        object.__setattr__(self, "_factors", factors)
        bias = np.ascontiguousarray(self.bias, dtype=np.float32)
        object.__setattr__(self, "_bias", bias if bias.any() else None)
        object.__setattr__(self, "_kernel", self._held())

    def _held(self) -> _mapkernel.Kernel:
        """The map in C memory, in the form `apply_wire` reads."""
        if self._factors is not None:
            left, right = self._factors
            return _mapkernel.residual(left, right, self.rank, self._bias)
        d_in, d_out = self.dims
        weights = np.ascontiguousarray(self.weights, dtype=np.float32)
        form = int8_form(weights)
        if form is not None:
            return _mapkernel.dense_i8(form.blocks, form.scales, form.sums, d_in, d_out, self._bias)
        return _mapkernel.dense(weights, d_in, d_out, self._bias)

    @property
    def dims(self) -> tuple[int, int]:
        """(d_in, d_out)."""
        d_in, d_out = self.weights.shape
        return int(d_in), int(d_out)

    def apply(self, vectors: Matrix) -> Matrix:
        """Map rows of `vectors` (n, d_in) to (n, d_out)."""
        if self._factors is not None:
            u, v = self._factors
            low: Matrix = vectors @ u
            out: Matrix = low @ v
            out += vectors
        else:
            out = vectors @ self.weights
        if self._bias is not None:
            out += self._bias
        return out

    def apply_wire(self, raw: bytes) -> bytes | None:
        """One query vector as `DenseVector` bytes, mapped (`proxy/_mapkernel.c`): the
        result's `DenseVector` bytes, or None when `raw` is not one packed block of
        d_in floats (then map it with `apply`)."""
        return self._kernel.apply(raw)


def residual_factors(weights: Matrix, rank: int) -> tuple[Matrix, Matrix]:
    """U (d x rank), V (rank x d) with ``I + U V`` the best rank-`rank` residual of
    `weights` (truncated SVD of ``weights - I``; exact when that is its rank)."""
    d_in, d_out = weights.shape
    if d_in != d_out or not 0 < rank <= d_in:
        raise ValueError(f"a rank-{rank} residual needs a square map, not {d_in} x {d_out}")
    left, right = _residual_svd(weights)
    return (
        np.ascontiguousarray(left[:, :rank].astype(np.float32)),
        np.ascontiguousarray(right[:rank].astype(np.float32)),
    )


def _residual_svd(weights: Matrix) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(U S, Vᵀ) of ``weights - I``, singular values largest first."""
    u, s, vt = np.linalg.svd(weights.astype(np.float64) - np.eye(weights.shape[0]))
    return u * s, vt


def low_rank(
    linear: LinearMap,
    rank: int,
    svd: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> LinearMap:
    """`linear` as ``I + U V`` of `rank`, its dense `weights` rebuilt from the factors
    (`svd`: `linear`'s residual SVD, when already computed)."""
    left, right = svd if svd is not None else _residual_svd(linear.weights)
    weights = np.eye(left.shape[0]) + left[:, :rank] @ right[:rank]
    return LinearMap(linear.kind, weights.astype(np.float32), linear.bias, rank)


I8_COLUMNS = 128  # columns per block of an int8 map (proxy/_mapkernel.c)


def _int8_scales(weights: Matrix) -> Matrix:
    largest = np.abs(weights).max(axis=0)
    return np.where(largest > 0, largest / np.float32(127), np.float32(1)).astype(np.float32)


def int8_weights(linear: LinearMap) -> LinearMap:
    """`linear` with each column's weights rounded to the nearest of 255 steps of its
    largest magnitude, ``q * scale`` (kept as float32)."""
    weights = np.ascontiguousarray(linear.weights, dtype=np.float32)
    scales = _int8_scales(weights)
    steps = np.clip(np.rint(weights / scales), -127, 127)
    return LinearMap(linear.kind, (steps * scales).astype(np.float32), linear.bias, linear.rank)


def int8_form(weights: Matrix) -> Int8Weights | None:
    """The int8 form of weights that are all ``q * scale`` (`int8_weights`), or None.

    The scales are found again from each column's largest weight; they match the
    trained ones to within a float32 rounding, so the kernel's map is the stored one."""
    scales = _int8_scales(weights)
    ratio = weights / scales
    steps = np.rint(ratio)
    if np.abs(ratio - steps).max(initial=0.0) > 1e-3:
        return None
    d_in, d_out = weights.shape
    quads, blocks = -(-d_in // 4), -(-d_out // I8_COLUMNS)
    padded = np.zeros((quads * 4, blocks * I8_COLUMNS), np.int8)
    padded[:d_in, :d_out] = steps
    # [block, quad, column, row of the quad]
    laid = padded.reshape(quads, 4, blocks, I8_COLUMNS).transpose(2, 0, 3, 1)
    sums = steps.sum(axis=0).astype(np.int32)
    return Int8Weights(np.ascontiguousarray(laid), scales, sums)


def _map(kind: str, weights: NDArray[np.float64], bias: NDArray[np.float64] | None) -> LinearMap:
    d_out = weights.shape[1]
    b = np.zeros(d_out) if bias is None else bias
    return LinearMap(kind, weights.astype(np.float32), b.astype(np.float32))


def fit_procrustes(x: Matrix, y: Matrix) -> LinearMap:
    """Orthogonal Procrustes (semi-orthogonal for different dimensions)."""
    u, _, vt = np.linalg.svd(x.astype(np.float64).T @ y.astype(np.float64), full_matrices=False)
    return _map("procrustes", u @ vt, None)


def fit_ridge(x: Matrix, y: Matrix, lam: float = RIDGE_LAMBDA) -> LinearMap:
    """Ridge least squares with an unshrunk bias."""
    xa = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    penalty = lam * np.eye(xa.shape[1])
    penalty[-1, -1] = 0.0
    solution = np.linalg.solve(xa.T @ xa + penalty, xa.T @ y.astype(np.float64))
    return _map("ridge", solution[:-1], solution[-1])


def fit_ridge_identity(x: Matrix, y: Matrix, lam: float = IDENTITY_LAMBDA) -> LinearMap:
    """Linear ridge shrunk toward the identity (same dimensions only)."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    eye = np.eye(x.shape[1])
    weights = np.asarray(
        np.linalg.solve(x64.T @ x64 + lam * eye, x64.T @ y64 + lam * eye), dtype=np.float64
    )
    return _map("ridge_identity", weights, None)


def candidates(x: Matrix, y: Matrix) -> list[LinearMap]:
    """Every map worth trying for these dimensions."""
    maps = [fit_procrustes(x, y), fit_ridge(x, y)]
    if x.shape[1] == y.shape[1]:
        maps.append(fit_ridge_identity(x, y))
    return maps


# -- search and figures ---------------------------------------------------------------------


def top_k(index: Matrix, queries: Matrix, k: int, distance: str) -> NDArray[np.int64]:
    """Row numbers of each query's k nearest index rows (exact), best first."""
    k = min(k, len(index))
    if distance == "Euclid":
        scores = 2 * queries @ index.T - (index * index).sum(axis=1)[None, :]
    elif distance == "Manhattan":
        scores = -np.abs(queries[:, None, :] - index[None, :, :]).sum(axis=2)
    else:
        if distance == "Cosine":
            index = _normalise(index)
            queries = _normalise(queries)
        scores = queries @ index.T
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def _normalise(m: Matrix) -> Matrix:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: Matrix = (m / np.where(norms == 0, 1, norms)).astype(np.float32)
    return out


@dataclass(frozen=True)
class Figures:
    """What one way of querying (a map, no map, or the old vectors) reaches on one set."""

    overlap: float  # mean |top-k ∩ top-k of the old version's own vectors| / k
    recall: float  # mean recall@k against labels (0 when no labels)


@dataclass(frozen=True)
class EvalSet:
    """Query pairs to judge maps on: new-version vectors, old-version vectors, labels."""

    name: str
    new: Matrix
    old: Matrix
    labels: list[set[int]]  # index rows that should be found (empty set: no label)

    @property
    def labelled(self) -> int:
        """How many queries carry labels."""
        return sum(1 for label in self.labels if label)


def figures(
    found: NDArray[np.int64], reference: NDArray[np.int64], labels: list[set[int]]
) -> Figures:
    """Overlap with `reference` and recall against `labels`, both averaged."""
    k = reference.shape[1]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(found, reference, strict=True)])
    recalls = [
        len(set(row) & label) / len(label)
        for row, label in zip(found, labels, strict=True)
        if label
    ]
    return Figures(float(overlap), float(np.mean(recalls)) if recalls else 0.0)


@dataclass
class SetReport:
    """One evaluation set: the old vectors' own recall, no map, and every candidate."""

    name: str
    queries: int
    labelled: int
    reference_recall: float  # recall@k of the old version's own query vectors
    no_map: Figures | None  # None: the dimensions differ, a query cannot even be compared
    maps: dict[str, Figures] = field(default_factory=dict)


def evaluate(
    index: Matrix, distance: str, k: int, maps: Sequence[LinearMap], evals: Sequence[EvalSet]
) -> list[SetReport]:
    """Figures of no map and of every map on every evaluation set."""
    reports = []
    for ev in evals:
        reference = top_k(index, ev.old, k, distance)
        own = figures(reference, reference, ev.labels)
        report = SetReport(ev.name, len(ev.new), ev.labelled, own.recall, None)
        if ev.new.shape[1] == index.shape[1]:
            report.no_map = figures(top_k(index, ev.new, k, distance), reference, ev.labels)
        for m in maps:
            report.maps[m.kind] = figures(
                top_k(index, m.apply(ev.new), k, distance), reference, ev.labels
            )
        reports.append(report)
    return reports


@dataclass(frozen=True)
class Verdict:
    """Whether a map clears the floor, and the sentence saying why or why not."""

    passed: bool
    reasons: list[str]


def judge(chosen: str, reports: Sequence[SetReport], min_recall_ratio: float) -> Verdict:
    """The floor: better top-k overlap than no map on every set, and recall@k against
    labels of at least `min_recall_ratio` of the old vectors' own recall (on the golden
    queries when they carry labels, else on the held-out pairs)."""
    reasons: list[str] = []
    passed = True
    for report in reports:
        mine = report.maps[chosen]
        baseline = report.no_map.overlap if report.no_map is not None else 0.0
        if mine.overlap <= baseline:
            passed = False
            reasons.append(
                f"{report.name}: top-k overlap {mine.overlap:.3f} is not above no map's "
                f"{baseline:.3f}"
            )
    labelled = [r for r in reports if r.labelled and r.name != "pairs"] or [
        r for r in reports if r.labelled
    ]
    for report in labelled[:1]:
        mine = report.maps[chosen]
        floor = min_recall_ratio * report.reference_recall
        if mine.recall < floor:
            passed = False
            reasons.append(
                f"{report.name}: recall@k {mine.recall:.3f} is below {min_recall_ratio:.0%} of "
                f"the old version's own {report.reference_recall:.3f} ({floor:.3f})"
            )
    return Verdict(passed, reasons)


@dataclass
class Training:
    """A finished training: the chosen map, every set's figures, the verdict."""

    chosen: LinearMap
    pairs_total: int
    fit_pairs: int
    held_out: int
    reports: list[SetReport]
    verdict: Verdict


def split(
    n: int, holdout: float, fit_share: float, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(fit rows, held-out rows) of `n` pairs: a seeded shuffle, held-out share first.

    `fit_share` is a share of all `n` pairs (0: every pair not held out)."""
    order = np.random.default_rng(seed).permutation(n)
    held = max(1, round(n * holdout))
    rest = order[held:]
    if fit_share > 0:
        rest = rest[: max(2, round(n * fit_share))]
    return rest.astype(np.int64), order[:held].astype(np.int64)


def train(
    new: Matrix,
    old: Matrix,
    pair_rows: NDArray[np.int64],
    index: Matrix,
    distance: str,
    *,
    queries: EvalSet | None = None,
    k: int = 10,
    holdout: float = 0.2,
    fit_share: float = 0.0,
    seed: int = 0,
    min_recall_ratio: float = 0.95,
    rank_tolerance: float = RANK_TOLERANCE,
) -> Training:
    """Fit every candidate on paired vectors, judge them, choose the best.

    `new[i]` and `old[i]` are the same point under both versions; `pair_rows[i]` is
    that point's row in `index` (every vector of the old version's partition). The map
    with the best held-out-pair overlap is chosen, then made low-rank where
    `rank_tolerance` allows (`compress`).
    """
    fit, held = split(len(new), holdout, fit_share, seed)
    maps = candidates(new[fit], old[fit])
    pairs = EvalSet("pairs", new[held], old[held], [{int(pair_rows[i])} for i in held])
    evals = [pairs] if queries is None else [pairs, queries]
    reports = evaluate(index, distance, k, maps, evals)
    best = max(maps, key=lambda m: reports[0].maps[m.kind].overlap)
    served = compress(
        best,
        overlap=reports[0].maps[best.kind].overlap,
        index=index,
        distance=distance,
        k=k,
        pairs=pairs,
        tolerance=rank_tolerance,
    )
    if not served.rank:  # a dense map is read per query: a quarter of the bytes (decision 53)
        served = int8_weights(served)
    if served is not best:  # the figures shown are those of the map that will answer
        again = evaluate(index, distance, k, [served], evals)
        for report, figs in zip(reports, again, strict=True):
            report.maps[best.kind] = figs.maps[best.kind]
        best = served
    verdict = judge(best.kind, reports, min_recall_ratio)
    return Training(best, len(new), len(fit), len(held), reports, verdict)


def compress(
    linear: LinearMap,
    *,
    overlap: float,
    index: Matrix,
    distance: str,
    k: int,
    pairs: EvalSet,
    tolerance: float,
) -> LinearMap:
    """The smallest-rank residual form of a square map whose held-out pair overlap is
    within `tolerance` of the dense map's `overlap`; the dense map if none is."""
    d_in, d_out = linear.dims
    if d_in != d_out or tolerance <= 0:
        return linear
    reference = top_k(index, pairs.old, k, distance)
    svd = _residual_svd(linear.weights)  # once; each candidate's own factors come from
    for rank in (r for r in RANKS if 4 * r <= d_in):  # its float32 weights, as stored
        candidate = low_rank(linear, rank, svd)
        found = top_k(index, candidate.apply(pairs.new), k, distance)
        if figures(found, reference, pairs.labels).overlap >= overlap - tolerance:
            return candidate
    return linear
