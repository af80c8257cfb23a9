"""Bridge maps fitted with numpy on the real-embedding slice, and the floor that judges them."""

from __future__ import annotations

import numpy as np

from proxy.bridge.fit import (
    EvalSet,
    Figures,
    SetReport,
    fit_procrustes,
    fit_ridge,
    judge,
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
