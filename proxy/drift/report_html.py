"""`vecgate drift report --html`: one self-contained page, plots drawn as inline SVG.

Per partition: the scores over time (centroid distance against its threshold, domain
classifier AUC) and the distribution of cosines to the reference mean, reference
window against recent window. No plotting library: a few SVG primitives suffice.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

WIDTH, HEIGHT, PAD = 520, 200, 36


def _scale(
    values: Sequence[float], low: float, high: float, size: float, flip: bool
) -> list[float]:
    span = (high - low) or 1.0
    out = [(v - low) / span * size for v in values]
    return [size - v for v in out] if flip else out


def line_plot(title: str, series: list[tuple[str, str, list[float]]], xs: list[float]) -> str:
    """Lines (label, colour, values) over xs, with min/max axis labels."""
    values = [v for _, _, vs in series for v in vs]
    if not xs or not values:
        return f"<p><em>{html.escape(title)}: no scores yet</em></p>"
    low, high = min(0.0, *values), max(values) * 1.05 or 1.0
    width, height = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    px = _scale(xs, min(xs), max(xs), width, False)
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" role="img"><title>{html.escape(title)}</title>'
    ]
    parts.append(
        f'<rect x="{PAD}" y="{PAD}" width="{width}" height="{height}" fill="none" stroke="#ccc"/>'
    )
    for n, (label, colour, vs) in enumerate(series):
        py = _scale(vs, low, high, height, True)
        points = " ".join(f"{PAD + x:.1f},{PAD + y:.1f}" for x, y in zip(px, py, strict=True))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        parts.append(
            f'<text x="{PAD + 8 + 150 * n}" y="{PAD - 8}" fill="{colour}" font-size="12">'
            f"{html.escape(label)}</text>"
        )
    parts.append(f'<text x="4" y="{PAD + 10}" font-size="10">{high:.3f}</text>')
    parts.append(f'<text x="4" y="{PAD + height}" font-size="10">{low:.3f}</text>')
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="10">vectors {min(xs):.0f} … '
        f"{max(xs):.0f}</text></svg>"
    )
    return "".join(parts)


def histogram(title: str, samples: list[tuple[str, str, list[float]]], bins: int = 30) -> str:
    """Overlaid normalised histograms (label, colour, values)."""
    values = [v for _, _, vs in samples for v in vs]
    if not values:
        return f"<p><em>{html.escape(title)}: no vectors yet</em></p>"
    low, high = min(values), max(values)
    step = (high - low) / bins or 1.0
    width, height = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    shares: list[list[float]] = []
    for _, _, vs in samples:
        counts = [0] * bins
        for v in vs:
            counts[min(bins - 1, int((v - low) / step))] += 1
        shares.append([c / max(1, len(vs)) for c in counts])
    top = max(max(s) for s in shares) or 1.0
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT}" role="img"><title>{html.escape(title)}</title>'
    ]
    bar = width / bins
    for n, ((label, colour, _), share) in enumerate(zip(samples, shares, strict=True)):
        for i, value in enumerate(share):
            h = value / top * height
            parts.append(
                f'<rect x="{PAD + i * bar:.1f}" y="{PAD + height - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}" fill-opacity="0.45"/>'
            )
        parts.append(
            f'<text x="{PAD + 8 + 170 * n}" y="{PAD - 8}" fill="{colour}" font-size="12">'
            f"{html.escape(label)} (n={len(samples[n][2])})</text>"
        )
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="10">cosine to the reference mean '
        f"{low:.3f} … {high:.3f}</text></svg>"
    )
    return "".join(parts)


def render(reply: Any) -> str:
    """The whole page for a `DriftReply` read with detail."""
    body = [
        "<h1>vecgate drift report</h1>",
        f"<p>Batches offered {reply.offered}, dropped {reply.dropped}, queued {reply.queued}. "
        "Statistics are this replica's, since it started.</p>",
    ]
    if not reply.partitions:
        body.append("<p>No partition has received writes through this replica yet.</p>")
    for p in reply.partitions:
        latest = p.latest
        body.append(f"<h2>{html.escape(p.collection)} — {html.escape(p.version)}</h2>")
        body.append(
            f"<p><strong>verdict: {html.escape(p.verdict)}</strong> — {html.escape(p.evidence)}"
            + (f"<br>next: {html.escape(p.next_step)}" if p.next_step else "")
            + "</p>"
        )
        body.append(
            f"<p>vectors {p.vectors}; reference {p.reference_vectors}/{p.reference_size}; "
            f"recent {p.recent_vectors}/{p.window}; centroid distance "
            f"{latest.centroid_distance:.4f} (threshold {latest.threshold:.4f}); MMD p "
            f"{latest.mmd_p_value:.3f}; drifted components {latest.drifted_share:.2f}; "
            f"domain AUC {latest.domain_auc:.3f}; re-upserts {p.reupserts_checked} checked, "
            f"{p.reupserts_diverged} diverged; fingerprint {html.escape(p.fingerprint or '—')}"
            "</p>"
        )
        xs = [float(s.vectors) for s in p.history]
        body.append(
            line_plot(
                "scores over time",
                [
                    ("centroid distance", "#c0392b", [s.centroid_distance for s in p.history]),
                    ("threshold", "#7f8c8d", [s.threshold for s in p.history]),
                    ("domain AUC - 0.5", "#2980b9", [s.domain_auc - 0.5 for s in p.history]),
                ],
                xs,
            )
        )
        body.append(
            histogram(
                "cosine to the reference mean",
                [
                    ("reference", "#27ae60", list(p.reference_cosines)),
                    ("recent", "#c0392b", list(p.recent_cosines)),
                ],
            )
        )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>vecgate drift report</title>'
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}svg{display:block;"
        "margin:1em 0}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
