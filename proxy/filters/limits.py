"""Limits: refuse a request larger than the configured limits before any work is done.

Points per write, vector dimension of a new collection, and the `limit` (top-k) of
searches and reads, including every item of a batch. Each refusal names the limit,
the value sent and the setting that raises it.
"""

from __future__ import annotations

from typing import Any

from proxy.chain import RequestFilter
from proxy.config import LimitsConfig
from proxy.envelope import Envelope
from proxy.errors import InvalidArgument
from proxy.frontend.ops import BATCH_ITEMS, Kind


class Limits(RequestFilter):
    """Enforces `[limits]`: points per write, dimension, top-k."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits

    def on_request(self, env: Envelope) -> None:
        """Refuse what exceeds a limit, naming it."""
        kind = env.op.kind
        if kind is Kind.WRITE:
            self._points(env)
        elif kind in (Kind.SEARCH, Kind.READ):
            self._top_k(env.request, env.op.label)
            items = BATCH_ITEMS.get(env.op.name)
            if items is not None:
                for item in getattr(env.request, items):
                    self._top_k(item, env.op.label)
        elif env.op.name == "Create" and kind is Kind.CATALOG:  # (Update cannot resize)
            self._dimensions(env.request)

    def _points(self, env: Envelope) -> None:
        most = self.limits.max_points_per_request
        if env.points > most:
            raise InvalidArgument(
                f"{env.op.label} carries {env.points} points; at most {most} per request are "
                "accepted (limits.max_points_per_request): split the batch",
                reason="too_many_points",
            )

    def _top_k(self, request: Any, label: str) -> None:
        most = self.limits.max_top_k
        limit = getattr(request, "limit", 0)
        if isinstance(limit, int) and limit > most:
            raise InvalidArgument(
                f"{label} asks for limit={limit}; at most {most} results per request are "
                "served (limits.max_top_k): page with offset instead",
                reason="top_k",
            )

    def _dimensions(self, request: Any) -> None:
        config = getattr(request, "vectors_config", None)
        if config is None:
            return
        sizes = [config.params.size] if config.HasField("params") else []
        if config.HasField("params_map"):
            sizes += [params.size for params in config.params_map.map.values()]
        most = self.limits.max_dimension
        for size in sizes:
            if size > most:
                raise InvalidArgument(
                    f"a vector of {size} dimensions is declared; at most {most} are accepted "
                    "(limits.max_dimension)",
                    reason="dimension",
                )
