"""Drift scores between a reference sample and a recent sample of vectors (numpy only).

The four methods practitioners use for embedding drift (Evidently's embedding drift
methods, Alibi Detect's MMD detector), written for small samples (a few hundred rows):

- `centroid_distance`: 1 - cosine between the two mean vectors;
- `mmd`: squared maximum mean discrepancy with an RBF kernel (median-distance bandwidth)
  and a permutation p-value;
- `drifted_share`: the share of components whose two-sample Kolmogorov-Smirnov test
  rejects at `alpha`;
- `domain_auc`: ROC AUC of a linear classifier told to separate the two samples,
  cross-fitted on two halves (0.5: indistinguishable, 1.0: fully separable).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32] | npt.NDArray[np.float64]

#: Permutations per step of an early-stopping MMD test.
PERMUTATION_CHUNK = 25


def centroid_distance(reference_mean: npt.NDArray[np.float64], recent: Matrix) -> float:
    """1 - cos(reference mean, mean of `recent`); 0 for identical directions."""
    mean = np.asarray(recent, dtype=np.float64).mean(axis=0)
    return cosine_distance(reference_mean, mean)


def cosine_distance(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """1 - cos(a, b) (1.0 when either vector is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 1.0
    return 1.0 - float(np.dot(a, b)) / (na * nb)


def mmd(
    x: Matrix,
    y: Matrix,
    *,
    permutations: int = 200,
    rng: np.random.Generator | None = None,
    alpha: float | None = None,
) -> tuple[float, float]:
    """Squared MMD (biased estimate, RBF kernel) and its permutation p-value.

    The bandwidth is the median pairwise squared distance of the pooled sample. The
    p-value is (1 + #permuted statistics >= observed) / (1 + permutations). With
    `alpha`, permutations run in chunks and stop as soon as the p-value cannot end
    below `alpha` (the test's outcome at `alpha` is the same as with every
    permutation); the p-value returned is then estimated from the permutations run.
    """
    rng = rng or np.random.default_rng(0)
    pooled = np.concatenate([x, y]).astype(np.float64)
    n, m = len(x), len(y)
    sq = np.einsum("ij,ij->i", pooled, pooled)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * pooled @ pooled.T, 0.0)
    upper = d2[np.triu_indices(n + m, 1)]
    bandwidth = float(np.median(upper)) or 1.0
    kernel = np.exp(-d2 / bandwidth)
    base = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    observed = float(base @ kernel @ base)
    # Stop once this many permuted statistics reach the observed one: p >= alpha then.
    enough = math.inf if alpha is None else alpha * (1.0 + permutations) - 1.0
    chunk = permutations if alpha is None else PERMUTATION_CHUNK
    done = exceed = 0
    while done < permutations:
        k = min(chunk, permutations - done)
        order = rng.permuted(np.tile(np.arange(n + m), (k, 1)), axis=1)
        signs = base[order].T  # (n + m) x k, one permutation per column
        stats = np.einsum("ip,ip->p", signs, kernel @ signs)
        exceed += int(np.sum(stats >= observed))
        done += k
        if exceed >= enough:
            break
    return observed, (1.0 + exceed) / (1.0 + done)


def drifted_share(x: Matrix, y: Matrix, *, alpha: float = 0.05) -> float:
    """Share of components whose two-sample KS test rejects at `alpha` (asymptotic p).

    Every component at once: sort the pooled sample per component, and the two
    empirical CDFs are running counts of which sample each sorted value came from
    (read at the last of equal values, as the CDFs are right-continuous).
    """
    n, m = len(x), len(y)
    pooled = np.concatenate([x, y]).T.copy()  # one row per component: sorts run along rows
    order = np.argsort(pooled, axis=1)
    from_x = order < n
    gap = np.abs(np.cumsum(from_x, axis=1) / n - np.cumsum(~from_x, axis=1) / m)
    ordered = np.take_along_axis(pooled, order, axis=1)
    gap[:, :-1][ordered[:, 1:] == ordered[:, :-1]] = 0.0  # ties: read after the last copy
    statistic = gap.max(axis=1)
    effective = math.sqrt(n * m / (n + m))
    p_values = _kolmogorov_sf((effective + 0.12 + 0.11 / effective) * statistic)
    return float(np.mean(p_values < alpha))


def _kolmogorov_sf(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """P(K > t) for the Kolmogorov distribution (series; 1 near t = 0)."""
    k = np.arange(1, 101)[:, None]
    terms = 2.0 * (-1.0) ** (k - 1) * np.exp(-2.0 * (k**2) * (t[None, :] ** 2))
    out: npt.NDArray[np.float64] = np.clip(terms.sum(axis=0), 0.0, 1.0)
    out[t < 0.2] = 1.0
    return out


def domain_auc(x: Matrix, y: Matrix, *, ridge: float = 1.0, seed: int = 0) -> float:
    """Cross-fitted ROC AUC of a ridge linear classifier separating `x` (0) from `y` (1).

    Solved in its dual form, (F Fᵀ + ridge I)⁻¹ on the training rows rather than
    (Fᵀ F + ridge I)⁻¹ on the features: the same weights (Fᵀ(F Fᵀ + λI)⁻¹ =
    (FᵀF + λI)⁻¹Fᵀ), a much smaller system when there are fewer rows than dimensions.
    """
    rng = np.random.default_rng(seed)
    data = np.concatenate([x, y]).astype(np.float64)
    features = np.c_[data, np.ones(len(data))]
    labels = np.r_[np.zeros(len(x)), np.ones(len(y))]
    order = rng.permutation(len(data))
    halves = (order[::2], order[1::2])
    gram = features @ features.T
    scores = np.empty(len(data))
    for train, test in (halves, halves[::-1]):
        target = labels[train] * 2.0 - 1.0
        inner = gram[np.ix_(train, train)] + ridge * np.eye(len(train))
        scores[test] = gram[np.ix_(test, train)] @ np.linalg.solve(inner, target)
    return roc_auc(scores, labels)


def roc_auc(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]  # the first of each run of ties
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(scores)]
    average = (starts + ends - 1) / 2.0 + 1.0  # mean 1-based rank of each run
    ranks = np.empty(len(scores))
    ranks[order] = average[np.cumsum(first) - 1]
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
