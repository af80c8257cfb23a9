"""The re-upsert check: the same point, the same text, a different vector.

A stable model gives the same text the same vector (fp32 MiniLM: cosine >= 0.99999994
however it is batched). So a point id written again under the same version with the
same content (a hash of a configured payload text field) but a vector whose cosine
to the earlier one is below `min_cosine` is evidence that the weights changed; one
whose cosine stays above it is evidence that they did not.

Memory is bounded: the last `capacity` (id, content hash, vector as float16) entries
per partition, least recently written forgotten first.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Outcome:
    """One re-upsert seen: when (vector count), when the earlier vector was written,
    and the cosine old vs new."""

    count: int
    cosine: float
    diverged: bool
    first_count: int = 0


def content_hash(text: str) -> bytes:
    """A short digest of a point's text."""
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


@dataclass(slots=True)
class ReupsertCheck:
    """Remembers recent (id -> content hash, vector) and judges re-upserts."""

    dim: int
    capacity: int = 1024
    min_cosine: float = 0.99
    slots: OrderedDict[str, tuple[bytes, int]] = field(default_factory=OrderedDict)
    vectors: npt.NDArray[np.float16] = field(init=False)
    written_at: npt.NDArray[np.int64] = field(init=False)  # vector count of each slot's write
    free: list[int] = field(init=False)
    outcomes: deque[Outcome] = field(default_factory=lambda: deque(maxlen=1000))
    checked: int = 0
    diverged: int = 0

    def __post_init__(self) -> None:
        self.vectors = np.zeros((self.capacity, self.dim), dtype=np.float16)
        self.written_at = np.zeros(self.capacity, dtype=np.int64)
        self.free = list(range(self.capacity - 1, -1, -1))

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the stored vectors (the bound)."""
        return self.vectors.nbytes

    def observe(
        self, ids: list[str], hashes: list[bytes | None], rows: npt.NDArray[np.float32], count: int
    ) -> list[Outcome]:
        """Check and remember a batch; `hashes[i]` None: point i has no text to compare."""
        found: list[Outcome] = []
        for i, (point_id, digest) in enumerate(zip(ids, hashes, strict=True)):
            if digest is None:
                continue
            known = self.slots.pop(point_id, None)
            if known is not None:
                old_digest, slot = known
                if old_digest == digest:
                    found.append(self._judge(slot, rows[i], count + i))
            else:
                slot = self.free.pop() if self.free else self._evict()
            self.vectors[slot] = rows[i]
            self.written_at[slot] = count + i
            self.slots[point_id] = (digest, slot)
        return found

    def _evict(self) -> int:
        _, (_, slot) = self.slots.popitem(last=False)
        return slot

    def _judge(self, slot: int, row: npt.NDArray[np.float32], count: int) -> Outcome:
        old = self.vectors[slot].astype(np.float32)
        denominator = float(np.linalg.norm(old) * np.linalg.norm(row)) or 1.0
        cosine = float(np.dot(old, row)) / denominator
        # float16 storage costs ~1e-4 of cosine; within that a vector counts as the same.
        outcome = Outcome(count, cosine, cosine < self.min_cosine, int(self.written_at[slot]))
        self.checked += 1
        self.diverged += outcome.diverged
        self.outcomes.append(outcome)
        return outcome

    def evidence(self, onset: int, alarm: int) -> tuple[int, int]:
        """Evidence about a shift first flagged at vector count `alarm`, which began at
        the latest at `onset` (the alarm's window start): (re-upserts made after the
        alarm whose earlier vector predates `onset` and that kept their vector,
        re-upserts since `onset` that diverged). Only a re-upsert surely straddling the
        shift says the model did not change; any divergence says it did."""
        matched = sum(
            1
            for o in self.outcomes
            if o.count >= alarm and o.first_count < onset and not o.diverged
        )
        diverged = sum(1 for o in self.outcomes if o.count >= onset and o.diverged)
        return matched, diverged
