"""The re-upsert check: the same point, the same text, a different vector.

A stable model gives the same text the same vector (fp32 MiniLM: cosine >= 0.99999994
however it is batched). So a point id written again under the same version with the
same content (a hash of a configured payload text field) but a vector whose cosine
to the earlier one is below `min_cosine` is evidence that the weights changed; one
whose cosine stays above it is evidence that they did not.

Memory is bounded: the last `capacity` (id, content hash, vector as bfloat16) entries
per partition, least recently written forgotten first. bfloat16 (a float32's upper 16
bits, rounded) because numpy converts to it ~20x faster than to float16 on this
project's machines; it keeps 8 bits of mantissa, which moves a cosine by ~1e-5, far
below the 0.99 threshold.

The content hash is Python's own string hash (64 bits, salted per process): the
remembered entries live in this process only, so it needs to be stable only here, and
it costs a tenth of a cryptographic digest per point.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
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


def to_bfloat16(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.uint16]:
    """float32 -> bfloat16 bits, rounded to nearest (finite values)."""
    bits = np.ascontiguousarray(rows, dtype=np.float32).view(np.uint32)
    return ((bits + np.uint32(0x8000)) >> np.uint32(16)).astype(np.uint16)


def from_bfloat16(bits: npt.NDArray[np.uint16]) -> npt.NDArray[np.float32]:
    """bfloat16 bits -> float32."""
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


#: A point's id as the check keys it: the number or the UUID text.
PointKey = int | str


def content_hash(text: str) -> int:
    """A 64-bit digest of a point's text, stable within this process."""
    return hash(text)


@dataclass(slots=True)
class ReupsertCheck:
    """Remembers recent (id -> content hash, vector) and judges re-upserts."""

    dim: int
    capacity: int = 1024
    min_cosine: float = 0.99
    slots: OrderedDict[PointKey, int] = field(default_factory=OrderedDict)  # id -> slot
    vectors: npt.NDArray[np.uint16] = field(init=False)  # bfloat16 bit patterns
    digests: npt.NDArray[np.int64] = field(init=False)  # each slot's content hash
    written_at: npt.NDArray[np.int64] = field(init=False)  # vector count of each slot's write
    free: list[int] = field(init=False)
    outcomes: deque[Outcome] = field(default_factory=lambda: deque(maxlen=1000))
    checked: int = 0
    diverged: int = 0

    def __post_init__(self) -> None:
        self.vectors = np.zeros((self.capacity, self.dim), dtype=np.uint16)
        self.digests = np.zeros(self.capacity, dtype=np.int64)
        self.written_at = np.zeros(self.capacity, dtype=np.int64)
        self.free = list(range(self.capacity - 1, -1, -1))

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the stored vectors (the bound)."""
        return self.vectors.nbytes

    def observe(
        self,
        ids: Sequence[PointKey],
        hashes: Sequence[int | None],
        rows: npt.NDArray[np.float32],
        count: int,
    ) -> list[Outcome]:
        """Check and remember a batch; `hashes[i]` None: point i has no text to compare."""
        slots = self.slots
        found: list[Outcome] = []
        taken: list[int] = []  # rows to store (in one assignment), their slots and hashes
        where: list[int] = []
        written: list[int] = []
        pending: set[int] = set()
        for i, (point_id, digest) in enumerate(zip(ids, hashes, strict=True)):
            if digest is None:
                continue
            known = slots.pop(point_id, None)
            if known is None:
                slot = self.free.pop() if self.free else slots.popitem(last=False)[1]
            else:
                slot = known
            if slot in pending:  # the slot was written earlier in this batch: store that first
                self._store(taken, where, written, rows, count)
                taken, where, written, pending = [], [], [], set()
            if known is not None and self.digests[slot] == digest:
                found.append(self._judge(slot, rows[i], count + i))
            slots[point_id] = slot
            taken.append(i)
            where.append(slot)
            written.append(digest)
            pending.add(slot)
        self._store(taken, where, written, rows, count)
        return found

    def _store(
        self,
        taken: list[int],
        where: list[int],
        digests: list[int],
        rows: npt.NDArray[np.float32],
        count: int,
    ) -> None:
        if taken:
            self.vectors[where] = to_bfloat16(rows[taken])
            self.written_at[where] = count + np.asarray(taken)
            self.digests[where] = digests

    def _judge(self, slot: int, row: npt.NDArray[np.float32], count: int) -> Outcome:
        old = from_bfloat16(self.vectors[slot])
        denominator = float(np.linalg.norm(old) * np.linalg.norm(row)) or 1.0
        cosine = float(np.dot(old, row)) / denominator
        # bfloat16 storage costs ~1e-5 of cosine; within that a vector counts as the same.
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
