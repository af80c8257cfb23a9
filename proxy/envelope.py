"""The protocol-neutral view of one request that the filters read and rewrite."""

from __future__ import annotations

import time
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from proxy.frontend.walk import Written
from proxy.identity import Identity

if TYPE_CHECKING:
    from proxy.config import KeyConfig
    from proxy.frontend.ops import Op
    from proxy.frontend.walk import QueryShape
    from proxy.registry import LiveBridge, LogicalCollection, Partition
    from proxy.wire_points import PackedPoints


@dataclass(slots=True)
class Claim:
    """The identity a request states, and where it came from (first match wins)."""

    general: Identity | None = None
    per_name: dict[str, Identity] = field(default_factory=dict)
    source: str = "none"  # header | api-key | default:<collection> | default

    def for_name(self, name: str) -> Identity | None:
        """The identity stated for one vector name ("" is the unnamed vector)."""
        return self.per_name.get(name.lower(), self.general)

    @property
    def empty(self) -> bool:
        """Whether no identity was stated at all."""
        return self.general is None and not self.per_name


@dataclass(slots=True)
class Envelope:
    """One request on its way through the chain."""

    op: Op
    request: Any
    metadata: dict[str, str]
    received: bytes | None = None  # the request's bytes as received (upserts only)
    collection: str | None = None  # the client-facing name (logical or alias)
    key: KeyConfig | None = None  # the configured key the request presented
    key_name: str | None = None  # its name
    claim: Claim = field(default_factory=Claim)
    logical: LogicalCollection | None = None
    partition: Partition | None = None
    bridge: LiveBridge | None = None  # set when a bridge maps the query into `partition`
    backend_op: Op | None = None  # set when a filter rewrote the request into another RPC
    shape: QueryShape | None = None  # search family: what the request compares
    carries_vectors: bool = False
    written: Written = field(default_factory=Written)  # (where, point) written
    packed: PackedPoints | None = None  # an upsert's points as read from its wire bytes
    points: int = 0  # points written
    decision: str = "pending"  # routed | bridged | refused | served
    reason: str | None = None
    started: float = field(default_factory=time.perf_counter)
    policy_seconds: float = 0.0
    backend_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)  # sent as vecgate-warning trailers
    trace_id: str = ""  # 32 hex digits: the exported trace, the client's, or a fresh one
    span_id: str = ""  # 16 hex digits: this request's server span
    extra: dict[str, Any] = field(default_factory=dict)

    def restart(self, extra: dict[str, Any]) -> None:
        """Forget what the filters decided, for a second run of the chain.

        Used once, after a refusal made on stale routing state (another replica had just
        changed it): only what the client sent, and when, is kept.
        """
        for spec in fields(self):
            if spec.name in _SENT:
                continue
            if spec.default_factory is not MISSING:
                setattr(self, spec.name, spec.default_factory())
            else:
                setattr(self, spec.name, spec.default)
        self.extra = dict(extra)


#: The fields a client's request fixes (and its trace ids, set before the chain runs);
#: everything else is the filters' work.
_SENT = frozenset({"op", "request", "metadata", "collection", "started", "trace_id", "span_id"})
