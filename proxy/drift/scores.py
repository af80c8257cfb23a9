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
    x: Matrix, y: Matrix, *, permutations: int = 200, rng: np.random.Generator | None = None
) -> tuple[float, float]:
    """Squared MMD (biased estimate, RBF kernel) and its permutation p-value.

    The bandwidth is the median pairwise squared distance of the pooled sample. The
    p-value is (1 + #permuted statistics >= observed) / (1 + permutations).
    """
    rng = rng or np.random.default_rng(0)
    pooled = np.concatenate([x, y]).astype(np.float64)
    n, m = len(x), len(y)
    sq = np.einsum("ij,ij->i", pooled, pooled)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * pooled @ pooled.T, 0.0)
    upper = d2[np.triu_indices(n + m, 1)]
    bandwidth = float(np.median(upper)) or 1.0
    kernel = np.exp(-d2 / bandwidth)
    signs = np.empty((n + m, permutations + 1))
    signs[:, 0] = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    for p in range(1, permutations + 1):
        signs[:, p] = signs[rng.permutation(n + m), 0]
    stats = np.einsum("ip,ip->p", signs, kernel @ signs)
    observed = float(stats[0])
    p_value = (1.0 + float(np.sum(stats[1:] >= observed))) / (1.0 + permutations)
    return observed, p_value


def drifted_share(x: Matrix, y: Matrix, *, alpha: float = 0.05) -> float:
    """Share of components whose two-sample KS test rejects at `alpha` (asymptotic p)."""
    n, m = len(x), len(y)
    xs, ys = np.sort(x, axis=0), np.sort(y, axis=0)
    grid = np.concatenate([xs, ys])
    cdf_x = np.empty_like(grid)
    cdf_y = np.empty_like(grid)
    for j in range(grid.shape[1]):
        cdf_x[:, j] = np.searchsorted(xs[:, j], grid[:, j], side="right") / n
        cdf_y[:, j] = np.searchsorted(ys[:, j], grid[:, j], side="right") / m
    statistic = np.abs(cdf_x - cdf_y).max(axis=0)
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
    """Cross-fitted ROC AUC of a ridge linear classifier separating `x` (0) from `y` (1)."""
    rng = np.random.default_rng(seed)
    data = np.concatenate([x, y]).astype(np.float64)
    labels = np.r_[np.zeros(len(x)), np.ones(len(y))]
    order = rng.permutation(len(data))
    halves = (order[::2], order[1::2])
    scores = np.empty(len(data))
    for train, test in (halves, halves[::-1]):
        features = np.c_[data[train], np.ones(len(train))]
        target = labels[train] * 2.0 - 1.0
        gram = features.T @ features + ridge * np.eye(features.shape[1])
        weights = np.linalg.solve(gram, features.T @ target)
        scores[test] = np.c_[data[test], np.ones(len(test))] @ weights
    return roc_auc(scores, labels)


def roc_auc(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
