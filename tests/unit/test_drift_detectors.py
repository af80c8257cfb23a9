"""The drift detectors on the real-embedding slice (tests/data): MiniLM, its fine-tune,
its int8 build, mpnet; docstrings and man pages under one model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from proxy.drift.fingerprints import Anchors, compare
from proxy.drift.reupsert import PointKey, ReupsertCheck, content_hash
from proxy.drift.scores import centroid_distance, domain_auc, drifted_share, mmd
from proxy.drift.stats import DriftSettings, PartitionStats
from proxy.drift.verdict import judge

DATA = Path(__file__).parent.parent / "data"
SETTINGS = DriftSettings(reference_size=300, window=100)


@pytest.fixture(scope="module")
def drift_data(embeddings: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with np.load(DATA / "drift.npz") as extra:
        out = {key: extra[key] for key in extra.files}
    origins = [
        json.loads(line)["origin"] for line in (DATA / "texts.jsonl").read_text().splitlines()
    ]
    out["docstring"] = np.array([o.startswith("cpython") for o in origins])
    return {**embeddings, **out}


def _first_alarm(rows: np.ndarray, seed: int, batch: int = 10) -> int | None:
    """Vector count at the first alarm, checking after every batch (as a live stream)."""
    stats = PartitionStats(rows.shape[1], SETTINGS, seed=seed)
    for start in range(0, len(rows), batch):
        stats.add(rows[start : start + batch])
        if stats.ready and stats.centroid_now() > stats.threshold:
            scores = stats.score()
            if scores is not None and scores.alarm:
                return stats.count
    return None


def test_switch_to_the_fine_tuned_minilm_is_flagged_within_200_vectors(drift_data):
    """MiniLM then its fine-tune under the same tag: alarm within 200 vectors, every stream."""
    mini, ft = drift_data["corpus_minilm"], drift_data["corpus_minilm_ft"]
    rng = np.random.default_rng(3)
    delays = []
    for trial in range(20):
        order = rng.permutation(len(mini))
        switch = SETTINGS.reference_size + 100
        rows = np.concatenate([mini[order[:switch]], ft[order[switch : switch + 300]]])
        alarm = _first_alarm(rows, seed=trial)
        assert alarm is not None, trial
        assert alarm > switch, (trial, alarm)
        delays.append(alarm - switch)
    assert max(delays) <= 200, delays


def test_same_model_streams_of_the_same_content_raise_no_alarm(drift_data):
    """50 MiniLM streams in random order: no alarm at any of ~68 checks each."""
    mini = drift_data["corpus_minilm"]
    rng = np.random.default_rng(4)
    alarms = sum(
        _first_alarm(mini[rng.permutation(len(mini))], seed=t) is not None for t in range(50)
    )
    assert alarms == 0


def test_content_shift_moves_the_centroid_like_the_fine_tune(drift_data):
    """Docstrings -> man pages (same model) is as large a move as MiniLM -> fine-tune."""
    mini, ft, doc = (
        drift_data["corpus_minilm"],
        drift_data["corpus_minilm_ft"],
        drift_data["docstring"],
    )
    docs = mini[doc]
    content = centroid_distance(docs.mean(axis=0), drift_data["manpage_minilm"])
    model = centroid_distance(docs.mean(axis=0), ft[doc])
    assert content > 0.15
    assert model > 0.15
    assert 0.5 < content / model < 3.0
    rows = np.concatenate([docs[:400], drift_data["manpage_minilm"][:200]])
    assert _first_alarm(rows, seed=1) is not None  # statistics alone flag both


def test_the_scores_separate_fine_tune_from_same_model(drift_data):
    mini, ft = drift_data["corpus_minilm"], drift_data["corpus_minilm_ft"]
    order = np.random.default_rng(5).permutation(len(mini))  # passages are stored by file
    ref, same, other = mini[order[:200]], mini[order[500:600]], ft[order[700:800]]
    assert mmd(ref, other)[1] < 0.01 < mmd(ref, same)[1]
    assert drifted_share(ref, other) > 2 * drifted_share(ref, same)
    assert domain_auc(ref, other) > 0.8
    assert domain_auc(ref, same) < 0.65


def test_memory_is_bounded_whatever_the_count(drift_data):
    mini = drift_data["corpus_minilm"]
    stats = PartitionStats(384, SETTINGS)
    before = stats.memory_bytes
    for _ in range(5):
        stats.add(mini)
    assert stats.count == 5 * len(mini)
    assert stats.memory_bytes == before
    assert stats.reservoir_filled == SETTINGS.reservoir
    assert abs(stats.norms.mean - 1.0) < 1e-5


def test_reupserts_tell_a_model_change_from_a_content_change(drift_data):
    """Same id and text re-written: a fine-tuned vector diverges, the same model's does not."""
    mini, ft = drift_data["corpus_minilm"], drift_data["corpus_minilm_ft"]
    check = ReupsertCheck(384, capacity=64)
    ids = [str(i) for i in range(50)]
    hashes: list[int | None] = [content_hash(f"text {i}") for i in range(50)]
    check.observe(ids, hashes, mini[:50], 0)
    same = check.observe(ids[:10], hashes[:10], mini[:10], 50)
    changed = check.observe(ids[10:20], hashes[10:20], ft[10:20], 60)
    assert [o.diverged for o in same] == [False] * 10
    assert [o.diverged for o in changed] == [True] * 10
    other_text = check.observe(ids[20:21], [content_hash("new text")], ft[20:21], 70)
    assert other_text == []  # the text changed: a new vector is expected
    assert (
        judge(
            identity="m@1",
            ready=True,
            alarm=True,
            reupserts_checked=10,
            reupserts_diverged=0,
            suspect=False,
            verified_ok_since_onset=False,
        ).kind
        == "content"
    )
    assert (
        judge(
            identity="m@1",
            ready=True,
            alarm=True,
            reupserts_checked=20,
            reupserts_diverged=10,
            suspect=False,
            verified_ok_since_onset=False,
        ).kind
        == "model"
    )
    unknown = judge(
        identity="m@1",
        ready=True,
        alarm=True,
        reupserts_checked=0,
        reupserts_diverged=0,
        suspect=False,
        verified_ok_since_onset=False,
    )
    assert unknown.kind == "unknown"
    assert "vecgate fingerprint check m@1" in unknown.next_step


@pytest.mark.parametrize(
    ("version", "passes"),
    [("minilm", True), ("minilm_ft", False), ("minilm_int8", False), ("mpnet", False)],
)
def test_fingerprint_passes_only_for_the_registered_model(drift_data, version, passes):
    texts = [json.loads(line)["text"] for line in (DATA / "anchors.jsonl").read_text().splitlines()]
    registered = Anchors(texts, drift_data["anchor_minilm"].tolist(), 32)
    key = f"anchor_{version}"
    result = compare(registered, drift_data[key].tolist(), 0.999)
    assert result.passed is passes, result.message


def test_early_stopped_mmd_reaches_the_same_verdict_as_every_permutation(drift_data):
    """The permutations stop once p cannot end below alpha: same outcome at alpha."""
    mini, ft = drift_data["corpus_minilm"], drift_data["corpus_minilm_ft"]
    rng = np.random.default_rng(8)
    for trial in range(10):
        order = rng.permutation(len(mini))
        ref = mini[order[:200]]
        for recent in (mini[order[300:400]], ft[order[300:400]]):
            full = mmd(ref, recent, rng=np.random.default_rng(trial))
            early = mmd(ref, recent, rng=np.random.default_rng(trial), alpha=0.01)
            assert early[0] == full[0]
            assert (early[1] < 0.01) == (full[1] < 0.01), (trial, early, full)


def test_drifted_share_matches_the_ks_statistic_read_one_component_at_a_time():
    """The all-components KS (one sort) against a plain per-component reading, with ties."""
    rng = np.random.default_rng(9)
    x = rng.integers(0, 6, (60, 12)).astype(np.float32)  # many ties
    y = (rng.integers(0, 6, (40, 12)) + (np.arange(12) % 3 == 0)).astype(np.float32)
    rejects = []
    for j in range(12):
        grid = np.union1d(x[:, j], y[:, j])
        cdf_x = np.searchsorted(np.sort(x[:, j]), grid, side="right") / 60
        cdf_y = np.searchsorted(np.sort(y[:, j]), grid, side="right") / 40
        d = np.abs(cdf_x - cdf_y).max()
        effective = np.sqrt(60 * 40 / 100)
        t = (effective + 0.12 + 0.11 / effective) * d
        k = np.arange(1, 101)
        p = (
            1.0
            if t < 0.2
            else float(np.clip(np.sum(2 * (-1.0) ** (k - 1) * np.exp(-2 * k**2 * t**2)), 0, 1))
        )
        rejects.append(p < 0.05)
    assert drifted_share(x, y) == np.mean(rejects)
    assert 0 < drifted_share(x, y) < 1


def test_reupserts_within_one_batch_and_beyond_capacity(drift_data):
    """A batch that writes one id twice, and a batch larger than the memory: the check
    judges against the vector written just before, whichever batch it came in."""
    mini, ft = drift_data["corpus_minilm"], drift_data["corpus_minilm_ft"]
    check = ReupsertCheck(384, capacity=8)
    same = content_hash("same text")
    # id "a" twice in one batch, the same vector: judged against the first, not diverged
    found = check.observe(["a", "b", "a"], [same, None, same], mini[[0, 1, 0]], 0)
    assert [o.diverged for o in found] == [False]
    assert check.observe(["a"], [same], ft[:1], 3)[0].diverged  # then the fine-tune's
    # 20 new ids through 8 slots: only the last 8 are remembered, each with its own vector
    ids: list[PointKey] = list(range(20))
    check.observe(ids, [content_hash(f"t{i}") for i in ids], mini[:20], 4)
    again = check.observe(ids[12:], [content_hash(f"t{i}") for i in ids[12:]], mini[12:20], 24)
    assert len(again) == 8
    assert not any(o.diverged for o in again)
    assert [o.first_count for o in again] == [4 + i for i in range(12, 20)]
    assert check.observe([0], [content_hash("t0")], mini[:1], 32) == []  # forgotten
