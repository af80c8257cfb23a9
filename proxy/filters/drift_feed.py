"""DriftFeed: hand each succeeded write to the drift watch (a non-blocking queue put)."""

from __future__ import annotations

from typing import Any

from proxy.chain import RequestFilter
from proxy.drift.watch import DriftWatch
from proxy.envelope import Envelope


class DriftFeed(RequestFilter):
    """On a write's response: offer its points to the watch; never waits, never refuses."""

    def __init__(self, watch: DriftWatch) -> None:
        self.watch = watch

    def on_response(self, env: Envelope, response: Any) -> Any:
        """Offer the written points (the statistics are computed off the request path)."""
        self.watch.offer(env)
        return response
