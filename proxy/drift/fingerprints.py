"""Model fingerprints: anchor texts with their registered vectors, and the `suspect` flag.

A version registers anchor texts with the vectors its model gave them. A client
re-embeds the texts (at start-up, say) and asks vecgate to compare: any anchor whose
cosine to its registered vector is below the threshold (0.999 by default) means the
weights behind the tag changed, and the version is marked `suspect`: writes under it
are refused until an operator clears it (or a new version is registered).

The anchors must be embedded the way they were registered: all texts in one call, in
the registered order, with the registered batch size. A batch-dependent build (the
data set's dynamic-int8 MiniLM) gives an anchor embedded alone a vector as far as
cosine 0.82 from the same anchor embedded in its batch of 32.

Both live in the backend so every replica agrees and they survive restarts:
``vg__fingerprints`` holds each version's small state record (re-read with routing
state), ``vg__anchors`` its anchors (read when a check or a client asks for them).
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog

from adapters.base import Backend
from proxy.errors import AlreadyExists, InvalidArgument, NotFound
from proxy.identity import Identity
from proxy.shared_state import SharedState
from proxy.store import RecordStore

STATE_STORE = "vg__fingerprints"
ANCHOR_STORE = "vg__anchors"
log = structlog.get_logger("vecgate.drift")


def now_text() -> str:
    """The current UTC time, RFC 3339, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Anchors:
    """Anchor texts and the registered vector of each, in registration order."""

    texts: list[str]
    vectors: list[list[float]]
    batch_size: int  # how many anchors went into one embedding call at registration
    how: str = ""  # free text: how they were embedded (library, options)

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Anchors:
        """Read the stored form back."""
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class FingerprintState:
    """What every replica must know about a version's fingerprint, without its vectors."""

    identity: str
    anchors: int
    dimension: int
    digest: str = ""
    registered: str = ""
    state: str = "ok"  # ok | suspect
    suspect_reason: str = ""
    suspect_since: str = ""
    last_check: str = ""
    last_passed: bool = False
    last_min_cosine: float = math.nan
    checks: int = 0
    history: list[str] = field(default_factory=list)  # one line per change of state

    @property
    def suspect(self) -> bool:
        """Whether writes under this version are refused."""
        return self.state == "suspect"

    def to_json(self) -> str:
        """The stored form."""
        data = asdict(self)
        data["last_min_cosine"] = None if math.isnan(self.last_min_cosine) else self.last_min_cosine
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FingerprintState:
        """Read the stored form back."""
        data: dict[str, Any] = json.loads(text)
        if data.get("last_min_cosine") is None:
            data["last_min_cosine"] = math.nan
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Presented anchor vectors against the registered ones."""

    passed: bool
    cosines: list[float]
    threshold: float
    below: list[int]  # indices of anchors under the threshold
    message: str

    @property
    def min_cosine(self) -> float:
        """The lowest anchor cosine (NaN when nothing could be compared)."""
        return min(self.cosines) if self.cosines else math.nan

    @property
    def mean_cosine(self) -> float:
        """The mean anchor cosine (NaN when nothing could be compared)."""
        return float(np.mean(self.cosines)) if self.cosines else math.nan


def compare(anchors: Anchors, presented: list[list[float]], threshold: float) -> Comparison:
    """Cosine of each presented vector with its registered one; all must reach `threshold`."""
    expected = len(anchors.texts)
    if len(presented) != expected:
        return Comparison(
            False,
            [],
            threshold,
            [],
            f"{len(presented)} vectors were sent for {expected} anchors; embed every anchor "
            "text, in the registered order, in one call",
        )
    registered = np.asarray(anchors.vectors, dtype=np.float64)
    dims = {len(v) for v in presented}
    if dims != {registered.shape[1]}:
        sent = ", ".join(str(d) for d in sorted(dims))
        return Comparison(
            False,
            [],
            threshold,
            list(range(expected)),
            f"the vectors sent have {sent} dimensions, the registered ones "
            f"{registered.shape[1]}: this is another model",
        )
    now = np.asarray(presented, dtype=np.float64)
    norms = np.linalg.norm(registered, axis=1) * np.linalg.norm(now, axis=1)
    norms[norms == 0] = 1.0
    cosines = [float(c) for c in np.einsum("ij,ij->i", registered, now) / norms]
    below = [i for i, c in enumerate(cosines) if not c >= threshold]
    if below:
        worst = min(range(expected), key=lambda i: cosines[i])
        message = (
            f"{len(below)} of {expected} anchors are below cosine {threshold} (lowest "
            f"{cosines[worst]:.4f}: {anchors.texts[worst]!r}): the weights behind the tag "
            "changed, or the anchors were not embedded as registered (one call, registered "
            f"order, batch size {anchors.batch_size})"
        )
    else:
        message = f"all {expected} anchors at cosine >= {threshold}"
    return Comparison(not below, cosines, threshold, below, message)


def parse_anchors_jsonl(text: str, where: str = "anchors") -> tuple[list[str], list[list[float]]]:
    """``{"text": ..., "vector": [...]}`` per line; INVALID_ARGUMENT naming a bad line."""
    texts: list[str] = []
    vectors: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            anchor_text, vector = record["text"], record["vector"]
            if not isinstance(anchor_text, str) or not isinstance(vector, list) or not vector:
                raise TypeError("text must be a string and vector a non-empty list")
            floats = [float(v) for v in vector]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(
                f'{where} line {number}: expected {{"text": "...", "vector": [numbers]}} '
                f"({type(exc).__name__}: {exc})"
            ) from None
        texts.append(anchor_text)
        vectors.append(floats)
    return texts, vectors


class FingerprintBook(SharedState[dict[str, FingerprintState]]):
    """Fingerprint states by identity text (cached, shared through the backend)."""

    def __init__(self, backend: Backend, min_cosine: float) -> None:
        super().__init__(backend, {})
        self.min_cosine = min_cosine
        self.states = RecordStore(backend, STATE_STORE)
        self.anchor_store = RecordStore(backend, ANCHOR_STORE)
        self._tasks: set[asyncio.Task[None]] = set()

    async def _read(self) -> dict[str, FingerprintState]:
        records = [FingerprintState.from_json(text) for text in await self.states.all()]
        return {record.identity: record for record in records}

    def get(self, identity: Identity) -> FingerprintState | None:
        """The cached state of a version's fingerprint."""
        return self.state.get(str(identity))

    def is_suspect(self, identity: Identity) -> bool:
        """Whether writes under `identity` are refused (cached; cheap)."""
        record = self.state.get(str(identity))
        return record is not None and record.suspect

    async def _put(self, record: FingerprintState) -> FingerprintState:
        await self.states.put(record.identity, record.to_json())
        self.state = {**self.state, record.identity: record}
        return record

    async def register(
        self,
        identity: Identity,
        texts: list[str],
        vectors: list[list[float]],
        *,
        digest: str,
        batch_size: int,
        how: str,
        replace_existing: bool,
    ) -> FingerprintState:
        """Store anchors for a version (ALREADY_EXISTS unless replacing)."""
        if not texts:
            raise InvalidArgument("no anchors: send at least one {text, vector} pair")
        dims = {len(v) for v in vectors}
        if len(dims) != 1:
            raise InvalidArgument(f"anchor vectors differ in length ({sorted(dims)})")
        if not all(math.isfinite(x) for v in vectors for x in v):
            raise InvalidArgument("anchor vectors hold NaN or infinite values")
        if len(set(texts)) != len(texts):
            raise InvalidArgument("anchor texts repeat; each anchor text once")
        await self.refresh()
        known = self.get(identity)
        if known is not None and not replace_existing:
            raise AlreadyExists(
                f"{identity} already has a fingerprint of {known.anchors} anchors; pass "
                "replace to register new ones (it also clears `suspect`)",
                reason="fingerprint_exists",
            )
        anchors = Anchors(texts, vectors, batch_size or len(texts), how)
        await self.anchor_store.put(str(identity), anchors.to_json())
        record = FingerprintState(
            identity=str(identity),
            anchors=len(texts),
            dimension=dims.pop(),
            digest=digest,
            registered=now_text(),
            history=[f"{now_text()} registered {len(texts)} anchors"],
        )
        return await self._put(record)

    async def anchors(self, identity: Identity) -> Anchors:
        """The registered anchors of a version, or NOT_FOUND."""
        record = await self._anchor_record(identity)
        if record is None:
            raise NotFound(
                f"{identity} has no fingerprint; register one with `vecgate models "
                f"fingerprint register {identity} --anchors FILE`",
                reason="no_fingerprint",
            )
        return record

    async def _anchor_record(self, identity: Identity) -> Anchors | None:
        text = await self.anchor_store.get(str(identity))
        return None if text is None else Anchors.from_json(text)

    async def verify(
        self, identity: Identity, presented: list[list[float]]
    ) -> tuple[Comparison, FingerprintState]:
        """Compare; a failure marks the version suspect (a pass never clears it)."""
        anchors = await self.anchors(identity)
        await self.refresh()
        record = self.get(identity)
        assert record is not None
        result = compare(anchors, presented, self.min_cosine)
        at = now_text()
        record = replace(
            record,
            last_check=at,
            last_passed=result.passed,
            last_min_cosine=result.min_cosine,
            checks=record.checks + 1,
        )
        if not result.passed and not record.suspect:
            record = self._suspect(record, f"fingerprint check failed: {result.message}", at)
        return result, await self._put(record)

    def _suspect(self, record: FingerprintState, reason: str, at: str) -> FingerprintState:
        log.warning("model version suspect", model=record.identity, reason=reason)
        return replace(
            record,
            state="suspect",
            suspect_reason=reason,
            suspect_since=at,
            history=[*record.history[-49:], f"{at} suspect: {reason}"],
        )

    async def clear(self, identity: Identity, by: str, note: str) -> FingerprintState:
        """An operator's decision: writes under the version are accepted again."""
        await self.refresh()
        record = self.get(identity)
        if record is None:
            raise NotFound(f"{identity} has no fingerprint", reason="no_fingerprint")
        at = now_text()
        line = f"{at} cleared by {by}" + (f": {note}" if note else "")
        log.warning("model version cleared", model=str(identity), by=by, note=note)
        cleared = replace(
            record,
            state="ok",
            suspect_reason="",
            suspect_since="",
            history=[*record.history[-49:], line],
        )
        return await self._put(cleared)

    async def mark_digest_changed(self, identity: Identity, sent: str, expected: str) -> None:
        """Mark a version suspect because a client reported another digest."""
        await self.refresh()
        record = self.get(identity)
        if record is None:
            record = FingerprintState(identity=str(identity), anchors=0, dimension=0)
        if record.suspect:
            return
        reason = f"a client sent x-embedding-digest {sent!r}, registered {expected!r}"
        await self._put(self._suspect(record, reason, now_text()))

    def mark_later(self, identity: Identity, sent: str, expected: str) -> None:
        """Schedule `mark_digest_changed` (filters are synchronous); errors are logged."""

        async def mark() -> None:
            try:
                await self.mark_digest_changed(identity, sent, expected)
            except Exception:  # logged: the request was refused either way
                log.exception("could not record a digest mismatch", model=str(identity))

        task = asyncio.get_running_loop().create_task(mark())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
