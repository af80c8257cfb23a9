"""Drift watch evaluation on the full data set (shared/data/embeddings): every figure.

    python -m bench.drift_eval [--data ../shared/data/embeddings] [--streams 200]

Runs the detector code vecgate runs (`PartitionStats`, `ReupsertCheck`, `judge`) on
streams of real vectors, checked after every 10-vector upsert, with the default
settings (reference 500, window 100, margin 1.5, MMD alpha 0.01):

- fingerprints: each version's anchors against MiniLM's registered ones;
- false alarms: same-model streams of the same content (random passage order);
- detection delay: MiniLM, then the fine-tuned (or int8) MiniLM under the same tag;
- content vs model: docstrings then man pages under MiniLM, against the fine-tune
  switch; with 5 % of writes re-upserting earlier points (text unchanged), the verdict
  300 vectors after the switch (model / content / unknown); and without re-upserts;
- cost: the watch's processing per vector and one full scoring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the gateway runs (proxy/cli)

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.drift.fingerprints import Anchors, compare  # noqa: E402
from proxy.drift.reupsert import ReupsertCheck, content_hash  # noqa: E402
from proxy.drift.scores import centroid_distance  # noqa: E402
from proxy.drift.stats import DriftSettings, PartitionStats  # noqa: E402
from proxy.drift.verdict import judge  # noqa: E402

BATCH = 10
SETTINGS = DriftSettings()


def run_stream(
    rows: np.ndarray, seed: int, reupsert: tuple[list[str], list[int]] | None = None
) -> tuple[int | None, str]:
    """Vector count at the first alarm (None: never) and the verdict then."""
    stats = PartitionStats(rows.shape[1], SETTINGS, seed=seed)
    check = ReupsertCheck(rows.shape[1], 1024, 0.99)
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        if reupsert is not None:
            ids, hashes = reupsert
            check.observe(
                ids[start : start + BATCH], list(hashes[start : start + BATCH]), batch, stats.count
            )
        stats.add(batch)
        if not stats.ready or stats.centroid_now() <= stats.threshold:
            continue
        scores = stats.score(0.0)
        if scores is not None and scores.alarm:
            alarm = stats.count
            for rest in range(start + BATCH, len(rows), BATCH):  # the stream goes on
                if reupsert is not None:
                    ids, hashes = reupsert
                    part = rows[rest : rest + BATCH]
                    check.observe(
                        ids[rest : rest + BATCH], list(hashes[rest : rest + BATCH]), part, rest
                    )
            matched, diverged = check.evidence(alarm - SETTINGS.window, alarm)
            verdict = judge(
                identity="minilm@1",
                ready=True,
                alarm=True,
                reupserts_checked=matched,
                reupserts_diverged=diverged,
                suspect=False,
                verified_ok_since_onset=False,
            )
            return alarm, verdict.kind
    return None, "none"


def with_reupserts(
    *,
    before: np.ndarray,
    after: np.ndarray,
    order: np.ndarray,
    switch: int,
    total: int,
    rng: np.random.Generator,
    share: float = 0.05,
):
    """A stream of `total` writes: passages in `order`, vectors from `before` up to
    `switch` then `after`; a `share` of writes re-upsert an earlier passage unchanged."""
    rows, ids, hashes = [], [], []
    written: list[int] = []
    fresh = iter(order)
    for n in range(total):
        model = before if n < switch else after
        if written and n > 50 and rng.random() < share:
            passage = int(written[rng.integers(len(written))])
        else:
            passage = int(next(fresh))
            written.append(passage)
        rows.append(model[passage])
        ids.append(str(passage))
        hashes.append(content_hash(f"passage {passage}"))
    return np.asarray(rows), (ids, hashes)


def quantiles(values: list[int]) -> str:
    if not values:
        return "—"
    return f"p50 {np.median(values):.0f}, p95 {np.quantile(values, 0.95):.0f}, max {max(values)}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "embeddings")
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    if not (args.data / "corpus.npz").exists():
        print(f"drift_eval: {args.data}/corpus.npz not found; pass --data", file=sys.stderr)
        return 2
    with np.load(args.data / "corpus.npz") as corpus, np.load(args.data / "anchors.npz") as anchors:
        c = {k: corpus[k] for k in ("minilm", "minilm_ft", "minilm_int8")}
        a = {k: anchors[k] for k in ("minilm", "minilm_ft", "minilm_int8", "mpnet")}
    texts = [
        json.loads(line)["text"] for line in (args.data / "anchors.jsonl").read_text().splitlines()
    ]
    origins = [
        json.loads(line)["origin"] for line in (args.data / "texts.jsonl").read_text().splitlines()
    ]
    doc = np.array([o.startswith("cpython") for o in origins])
    rng = np.random.default_rng(20240601)
    n = len(c["minilm"])
    out: list[str] = []

    def say(line: str) -> None:
        out.append(line)
        print(line, flush=True)

    say("== fingerprints: 32 anchors registered with minilm, threshold 0.999 per anchor")
    registered = Anchors(texts, a["minilm"].tolist(), 32)
    for version in ("minilm", "minilm_ft", "minilm_int8", "mpnet"):
        r = compare(registered, a[version].tolist(), 0.999)
        low = (
            f"min {r.min_cosine:.4f}, mean {r.mean_cosine:.4f}, below {len(r.below)}/32"
            if r.cosines
            else r.message
        )
        say(f"  {version:<12} {'PASS' if r.passed else 'FAIL'}  {low}")
    say(
        "  int8 caveat (data set README): an anchor embedded alone vs in its batch of 32 "
        "has cosine down to 0.817 under the int8 build;"
        " the check embeds all anchors in one call, in order"
    )

    streams = args.streams
    post = 1000
    say(
        f"\n== false alarms: {streams} same-model MiniLM streams, reference 500 + {post} monitored "
        f"vectors, checked every {BATCH} ({post // BATCH} checks per stream)"
    )
    for label, pool in (
        ("all passages", np.arange(n)),
        ("docstrings only", np.flatnonzero(doc)),
        ("man pages only", np.flatnonzero(~doc)),
    ):
        start = time.perf_counter()
        alarms = sum(
            run_stream(c["minilm"][rng.permutation(pool)[: SETTINGS.reference_size + post]], s)[0]
            is not None
            for s in range(streams)
        )
        say(
            f"  {label:<16} streams with any alarm: {alarms}/{streams} ({alarms / streams:.1%})"
            f"  [{time.perf_counter() - start:.0f} s]"
        )

    say(
        f"\n== model switch under the same tag after reference 500 + 200 vectors: {streams} streams"
    )
    for version in ("minilm_ft", "minilm_int8"):
        delays, missed, early = [], 0, 0
        switch = SETTINGS.reference_size + 200
        for s in range(streams):
            order = rng.permutation(n)
            rows = np.concatenate(
                [c["minilm"][order[:switch]], c[version][order[switch : switch + 400]]]
            )
            alarm, _ = run_stream(rows, s)
            if alarm is None:
                missed += 1
            elif alarm <= switch:
                early += 1
            else:
                delays.append(alarm - switch)
        say(
            f"  minilm -> {version:<12} delay (vectors after the switch) {quantiles(delays)}; "
            f"missed {missed}, early {early}; within 200: {sum(d <= 200 for d in delays)}/{streams}"
        )

    say("\n== content shift vs model drift (same model, docstrings -> man pages)")
    docs, mans = c["minilm"][doc], c["minilm"][~doc]
    say(
        f"  centroid distance, full corpus: docstrings vs man pages (minilm) "
        f"{centroid_distance(docs.mean(0), mans):.4f}; minilm vs minilm_ft "
        f"{centroid_distance(c['minilm'].mean(0), c['minilm_ft']):.4f}; minilm vs minilm_int8 "
        f"{centroid_distance(c['minilm'].mean(0), c['minilm_int8']):.4f}"
    )
    di, mi = np.flatnonzero(doc), np.flatnonzero(~doc)
    trials = max(20, streams // 4)
    results: dict[str, dict[str, int]] = {}
    delays_by: dict[str, list[int]] = {}
    for scenario in ("content shift", "model switch (ft)"):
        counts: dict[str, int] = {}
        for s in range(trials):
            order = np.r_[rng.permutation(di)[:800], rng.permutation(mi)[:400]]
            switch = 700
            if scenario == "content shift":
                before = after = c["minilm"]
                order = np.r_[rng.permutation(di)[:switch], rng.permutation(mi)[:500]]
            else:
                before, after = c["minilm"], c["minilm_ft"]
                order = rng.permutation(di)[: switch + 500]
            rows, meta = with_reupserts(
                before=before, after=after, order=order, switch=switch, total=switch + 400, rng=rng
            )
            alarm, verdict = run_stream(rows, s, meta)
            key = (
                verdict
                if alarm is not None and alarm > switch
                else ("missed" if alarm is None else "early")
            )
            counts[key] = counts.get(key, 0) + 1
            if alarm is not None and alarm > switch:
                delays_by.setdefault(scenario, []).append(alarm - switch)
            _, bare = run_stream(rows, s)
            counts[f"no re-upserts: {bare}"] = counts.get(f"no re-upserts: {bare}", 0) + 1
        results[scenario] = counts
        say(
            f"  {scenario:<18} alarm delay {quantiles(delays_by.get(scenario, []))}; verdicts over "
            f"{trials} streams (5% re-upserts): {dict(sorted(counts.items()))}"
        )
    say(
        "  without re-upserts or a fingerprint check the verdict is `unknown`, and it names the "
        "next step: `vecgate fingerprint check m@v --embed ...` (a pass: content; a failure: model)"
    )

    say("\n== cost of the watch (this machine)")
    stats = PartitionStats(384, SETTINGS)
    rows = c["minilm"][rng.permutation(n)]
    start = time.perf_counter()
    for i in range(0, n, 256):
        stats.add(rows[i : i + 256])
    per_vector = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for _ in range(10):
        stats.score()
    scoring_ms = (time.perf_counter() - start) / 10 * 1000
    stats.add(c["minilm_ft"][rng.permutation(n)[: SETTINGS.window]])  # a drifted window
    start = time.perf_counter()
    for _ in range(10):
        stats.score()
    drifted_ms = (time.perf_counter() - start) / 10 * 1000
    say(
        f"  statistics update: {per_vector:.2f} us per vector (256-vector batches); one full "
        f"scoring (centroid, MMD, KS, AUC): {scoring_ms:.1f} ms on a same-model window (the "
        f"MMD permutations stop early), {drifted_ms:.1f} ms on a drifted one (200 permutations)"
    )
    say(
        f"  memory per 384-d partition: {stats.memory_bytes / 1e6:.2f} MB of samples + "
        f"{ReupsertCheck(384).memory_bytes / 1e6:.2f} MB re-upsert memory (1024 points)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
