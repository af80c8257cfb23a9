"""What an alarm means: a model change, a content change, or "cannot tell, run this".

Vector statistics alone cannot tell the two apart: in the project's data set, the
same MiniLM moving from docstrings to man pages shifts the centroid (0.22) as much
as swapping in its fine-tuned weights (0.19). Two other signals can:

- re-upserts: the same id and text written again with a different vector can only
  come from different weights (a stable fp32 model is bit-stable); the same text
  with the same vector after the shift began says the model did not change;
- fingerprints: a failed check (the version is `suspect`) is a model change; a
  passed check after the shift began says the model is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Matching re-upserts (and no diverging one) needed to call a shift a content change.
MIN_MATCHING_REUPSERTS = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    """The kind of drift, the evidence behind it, and what to do next."""

    kind: str  # none | warming_up | model | content | unknown
    evidence: str
    next_step: str


def judge(
    *,
    identity: str,
    ready: bool,
    alarm: bool,
    reupserts_checked: int,
    reupserts_diverged: int,
    suspect: bool,
    verified_ok_since_onset: bool,
) -> Verdict:
    """Combine the statistical alarm with re-upserts and fingerprints since the onset."""
    if suspect:
        return Verdict(
            "model",
            f"{identity} is suspect: its fingerprint check failed or its digest changed",
            f"writes under {identity} are refused; re-embed with the registered weights, "
            f"or register a new version and migrate; then `vecgate fingerprint clear {identity}`",
        )
    if reupserts_diverged:
        return Verdict(
            "model",
            f"{reupserts_diverged} re-upserts of unchanged text got a different vector: "
            "the weights behind the tag changed",
            f"run `vecgate fingerprint check {identity} --embed MODULE:FUNCTION` to confirm "
            "(it marks the version suspect and stops its writes)",
        )
    if not ready:
        return Verdict("warming_up", "the reference or recent window is not full yet", "")
    if not alarm:
        return Verdict("none", "recent vectors match the reference", "")
    if verified_ok_since_onset:
        return Verdict(
            "content",
            "statistics moved, but a fingerprint check passed after the shift began: "
            "the model is unchanged, the content written changed",
            f"if the new content is expected, pin a new reference: `vecgate drift pin "
            f"COLLECTION --version {identity}`",
        )
    if reupserts_checked >= MIN_MATCHING_REUPSERTS:
        return Verdict(
            "content",
            f"statistics moved, but {reupserts_checked} re-upserts of text written before the "
            "shift kept their vectors: the model is unchanged, the content written changed",
            f"if the new content is expected, pin a new reference: `vecgate drift pin "
            f"COLLECTION --version {identity}`",
        )
    return Verdict(
        "unknown",
        "the recent vectors moved away from the reference; vector statistics cannot tell a "
        "model change from a change in what is written (both move the centroid alike)",
        f"run `vecgate fingerprint check {identity} --embed MODULE:FUNCTION`: a pass means "
        "the content changed (then `vecgate drift pin`), a failure means the weights did",
    )
