"""Suspect: refuse writes under a version whose weights changed behind its tag.

A version is `suspect` after a failed fingerprint check or a digest mismatch
(`proxy.drift.fingerprints`); writes under it are FAILED_PRECONDITION until an
operator clears it. A request that sends ``x-embedding-digest`` different from the
digest registered for its version is refused (its vectors come from other weights),
and the version is marked suspect.
"""

from __future__ import annotations

from proxy.chain import RequestFilter
from proxy.drift.fingerprints import FingerprintBook
from proxy.envelope import Envelope
from proxy.errors import FailedPrecondition
from proxy.frontend.ops import Kind
from proxy.identity import Identity
from proxy.models import ModelRegistry

DIGEST_HEADER = "x-embedding-digest"


class Suspect(RequestFilter):
    """Refuses writes under suspect versions and vectors from another digest."""

    def __init__(self, fingerprints: FingerprintBook, models: ModelRegistry) -> None:
        self.fingerprints = fingerprints
        self.models = models

    def on_request(self, env: Envelope) -> None:
        """Check the versions a write reaches; check a sent digest."""
        partition = env.partition
        if partition is None:
            return
        sent = env.metadata.get(DIGEST_HEADER)
        if sent and env.carries_vectors:
            for identity in partition.binding.values():
                self._check_digest(identity, sent)
        if env.op.kind is not Kind.WRITE or not self.fingerprints.state:
            return
        for identity in partition.binding.values():
            record = self.fingerprints.get(identity)
            if record is not None and record.suspect:
                raise FailedPrecondition(
                    f"the weights behind {identity} changed ({record.suspect_reason}; since "
                    f"{record.suspect_since}): writes under it are refused until an operator "
                    f"runs `vecgate fingerprint clear {identity}` or a new version is registered",
                    reason="suspect",
                )

    def _check_digest(self, identity: Identity, sent: str) -> None:
        record = self.fingerprints.get(identity)
        model = self.models.get(identity)
        expected = (record.digest if record else "") or (model.digest if model else "")
        if expected and sent != expected:
            self.fingerprints.mark_later(identity, sent, expected)
            raise FailedPrecondition(
                f"the weights behind {identity} changed: this client's model reports digest "
                f"{sent!r}, {identity} was registered with {expected!r}; the version is now "
                "suspect (writes refused) until an operator clears it or a new version is "
                "registered",
                reason="digest_changed",
            )
