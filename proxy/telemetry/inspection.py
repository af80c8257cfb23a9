"""The bounded in-memory record of recent requests, and live followers of it.

Every record is built at the end of a request on the event loop (no locks needed);
it never holds a vector, only counts. `vecgate inspect` reads it through the admin
API's `InspectRequests` stream.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.errors import ResourceExhausted

#: Records a follower may have waiting before it is cut off as too slow.
FOLLOW_BACKLOG = 10_000


@dataclass(slots=True)
class RequestRecord:
    """What one request did: who, where, the decision and its cost; never vectors."""

    seq: int
    at: float  # seconds since the epoch, when the request ended
    method: str
    collection: str  # as the client named it ("" if none)
    logical: str  # the logical collection it resolved to ("" if none)
    partition: str  # the physical index reached ("" if none)
    identity: str  # the model version reached, else the one the request stated
    identity_source: str
    key: str  # name of the API key presented ("" if none)
    decision: str  # routed | served | refused | error
    reason: str
    status: str  # gRPC status name
    message: str  # the refusal, word for word as the client got it
    latency_ms: float
    policy_ms: float
    backend_ms: float
    trace_id: str
    span_id: str
    sampled: bool  # a span was exported for it
    points: int
    vectors: int
    dimension: int
    warnings: tuple[str, ...] = ()
    bridge: str = ""  # the bridge that mapped the query ("" if none): from->to vN (kind)


@dataclass(frozen=True, slots=True)
class Match:
    """A filter over records; empty fields match everything."""

    refused_only: bool = False
    collection: str = ""
    model: str = ""
    trace_id: str = ""  # lower-case hex: the whole id or its beginning

    def __call__(self, record: RequestRecord) -> bool:
        """Whether `record` passes every filter set."""
        if self.refused_only and record.decision != "refused":
            return False
        if self.collection and self.collection not in (record.collection, record.logical):
            return False
        if self.trace_id and not record.trace_id.startswith(self.trace_id):
            return False
        return not self.model or self.model in re.split(r"[=,\s]+", record.identity)


@dataclass(eq=False)
class Follower:
    """A live reader: records that match arrive in order until it is closed."""

    match: Callable[[RequestRecord], bool]
    pending: deque[RequestRecord] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0
    closed: bool = False

    def offer(self, record: RequestRecord) -> None:
        """Queue `record` if it matches (counted as dropped past the backlog limit)."""
        if not self.match(record):
            return
        if len(self.pending) >= FOLLOW_BACKLOG:
            self.dropped += 1
        else:
            self.pending.append(record)
        self.wake.set()

    async def next(self) -> RequestRecord | None:
        """The next record; None once the server closes the follower."""
        while not self.pending:
            if self.dropped:
                raise ResourceExhausted(
                    f"the follower fell {self.dropped} records behind and was stopped; "
                    "narrow it with --refused, --collection or --model"
                )
            if self.closed:
                return None
            self.wake.clear()
            await self.wake.wait()
        return self.pending.popleft()


class Inspection:
    """The last `size` requests, oldest first, and the followers waiting for new ones."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.ring: deque[RequestRecord] = deque(maxlen=size)
        self.followers: set[Follower] = set()
        self.seq = 0

    @property
    def wanted(self) -> bool:
        """Whether a record would be kept or read by anyone (else skip building it)."""
        return self.size > 0 or bool(self.followers)

    def next_seq(self) -> int:
        """The sequence number of the next record."""
        self.seq += 1
        return self.seq

    def add(self, record: RequestRecord) -> None:
        """Keep a finished request's record and hand it to every follower."""
        self.ring.append(record)
        for follower in self.followers:
            follower.offer(record)

    def recent(self, match: Callable[[RequestRecord], bool], limit: int = 0) -> list[RequestRecord]:
        """Kept records that match, oldest first (the last `limit` of them if > 0)."""
        found = [r for r in self.ring if match(r)]
        return found[-limit:] if limit > 0 else found

    def follow(self, match: Callable[[RequestRecord], bool]) -> Follower:
        """A follower of records added from now on (register it before any await)."""
        follower = Follower(match)
        self.followers.add(follower)
        return follower

    def unfollow(self, follower: Follower) -> None:
        """Stop handing records to `follower`."""
        self.followers.discard(follower)

    def close(self) -> None:
        """End every follower's stream (server shutdown)."""
        for follower in self.followers:
            follower.closed = True
            follower.wake.set()
