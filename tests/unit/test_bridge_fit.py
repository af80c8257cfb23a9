"""Bridge maps fitted with numpy on the real-embedding slice, and the floor that judges them."""

from __future__ import annotations

import numpy as np

from proxy.bridge.fit import (
    EvalSet,
    Figures,
    LinearMap,
    SetReport,
    compress,
    fit_procrustes,
    fit_ridge,
    judge,
    low_rank,
    split,
    top_k,
    train,
)


def test_procrustes_recovers_a_rotation() -> None:
    """Pairs related by an exact orthogonal map give that map back."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 16)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    y = (x @ rotation).astype(np.float32)
    fitted = fit_procrustes(x, y)
    assert np.allclose(fitted.weights, rotation, atol=1e-4)
    assert fitted.apply(x).dtype == np.float32


def test_ridge_maps_between_dimensions() -> None:
    """768 -> 384: an affine map of the right shape that fits an affine relation."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((900, 768)).astype(np.float32)
    truth = rng.standard_normal((768, 384)).astype(np.float32) / 30
    y = x @ truth + 0.5
    fitted = fit_ridge(x, y)
    assert fitted.dims == (768, 384)
    assert np.abs(fitted.apply(x) - y).mean() < 0.05


def test_training_on_real_pairs_beats_no_map(embeddings: dict[str, np.ndarray]) -> None:
    """Fine-tuned MiniLM into MiniLM: the chosen map retrieves more of what MiniLM's own
    query vectors retrieve than the fine-tuned vectors searched as they are."""
    old, new = embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    rows = {int(i): n for n, i in enumerate(embeddings["corpus_ids"])}
    queries = EvalSet(
        "queries",
        embeddings["query_minilm_ft"],
        embeddings["query_minilm"],
        [{rows[int(s)]} for s in embeddings["query_source_doc"]],
    )
    result = train(new, old, np.arange(len(old)), old, "Cosine", queries=queries, fit_share=0.1)
    pairs, golden = result.reports
    assert result.fit_pairs == 109
    assert result.held_out == 217
    for report in (pairs, golden):
        assert report.no_map is not None
        assert report.maps[result.chosen.kind].overlap > report.no_map.overlap
    assert result.verdict.passed, result.verdict.reasons


def test_a_low_rank_map_applies_what_its_dense_weights_say() -> None:
    """``x + (x U) V + b`` equals ``x @ W + b`` for the stored dense W = I + U V, and a
    map whose residual is exactly rank 6 loses nothing at rank 8."""
    rng = np.random.default_rng(3)
    d = 64
    residual = rng.standard_normal((d, 6)) @ rng.standard_normal((6, d)) / 20
    bias = rng.standard_normal(d).astype(np.float32) / 10
    dense = LinearMap("ridge_identity", (np.eye(d) + residual).astype(np.float32), bias)
    x = rng.standard_normal((50, d)).astype(np.float32)
    small = low_rank(dense, 8)
    assert small.rank == 8
    assert small.apply(x).dtype == np.float32
    assert np.allclose(small.apply(x), x @ small.weights + bias, atol=1e-5)
    assert np.allclose(small.apply(x), dense.apply(x), atol=1e-4)
    assert np.allclose(small.apply(x[0]), small.apply(x)[0], atol=1e-6)  # one vector, 1-D


def _pairs(x: np.ndarray, y: np.ndarray) -> EvalSet:
    return EvalSet("pairs", x, y, [set() for _ in x])


def test_compress_takes_the_smallest_rank_within_the_tolerance() -> None:
    """A residual of rank 10 is kept at rank 16 (8 loses overlap); a rotation, whose
    residual is full rank, stays dense; tolerance 0 keeps every map dense."""
    rng = np.random.default_rng(4)
    d = 128
    index = rng.standard_normal((2000, d)).astype(np.float32)
    x = rng.standard_normal((300, d)).astype(np.float32)
    residual = rng.standard_normal((d, 10)) @ rng.standard_normal((10, d)) / 8
    truth = LinearMap("ridge_identity", (np.eye(d) + residual).astype(np.float32), np.zeros(d))
    y = truth.apply(x)
    pairs = _pairs(x, y)
    found = compress(
        truth, overlap=1.0, index=index, distance="Cosine", k=10, pairs=pairs, tolerance=0.005
    )
    assert found.rank == 16
    assert (
        compress(
            truth, overlap=1.0, index=index, distance="Cosine", k=10, pairs=pairs, tolerance=0.0
        )
        is truth
    )
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    turned = LinearMap("procrustes", rotation.astype(np.float32), np.zeros(d, np.float32))
    rotated = _pairs(x, turned.apply(x))
    kept = compress(
        turned, overlap=1.0, index=index, distance="Cosine", k=10, pairs=rotated, tolerance=0.005
    )
    assert kept is turned


def test_training_reports_the_figures_of_the_map_it_stores(
    embeddings: dict[str, np.ndarray],
) -> None:
    """On the real fine-tuned pairs the chosen ridge_identity map is stored low-rank, and
    the chosen map's reported figures are what that low-rank map reaches."""
    old, new = embeddings["corpus_minilm"], embeddings["corpus_minilm_ft"]
    result = train(new, old, np.arange(len(old)), old, "Cosine", fit_share=0.5)
    chosen = result.chosen
    assert chosen.kind == "ridge_identity"
    assert chosen.rank > 0
    dense = train(new, old, np.arange(len(old)), old, "Cosine", fit_share=0.5, rank_tolerance=0.0)
    assert dense.chosen.rank == 0
    mine = result.reports[0].maps[chosen.kind].overlap
    assert mine >= dense.reports[0].maps[chosen.kind].overlap - 0.005
    _, held = split(len(new), 0.2, 0.5, 0)
    reference = top_k(old, old[held], 10, "Cosine")
    found = top_k(old, chosen.apply(new[held]), 10, "Cosine")
    assert (
        np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, reference, strict=True)]) == mine
    )


def test_the_floor_refuses_with_reasons() -> None:
    """No better than no map, and recall below 95% of the old vectors' own: two reasons."""
    report = SetReport(
        "queries",
        10,
        10,
        reference_recall=1.0,
        no_map=Figures(0.5, 0.9),
        maps={"procrustes": Figures(0.5, 0.9)},
    )
    verdict = judge("procrustes", [report], 0.95)
    assert not verdict.passed
    assert len(verdict.reasons) == 2
    assert "not above no map's 0.500" in verdict.reasons[0]
    assert "below 95%" in verdict.reasons[1]


def test_top_k_is_exact_and_ordered() -> None:
    """Cosine top-k: the nearest rows, best first."""
    index = np.eye(4, dtype=np.float32)
    query = np.array([[0.1, 0.9, 0.3, 0.0]], dtype=np.float32)
    assert top_k(index, query, 3, "Cosine").tolist() == [[1, 2, 0]]
