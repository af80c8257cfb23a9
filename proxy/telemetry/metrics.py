"""Prometheus metrics served at `GET /metrics` on the HTTP port (text format 0.0.4).

Labels stay bounded: `collection` is the logical collection a request resolved to
("" when none did, e.g. an unknown name), `model_version` the version reached, or
the one stated if the model registry knows it ("other" for any other stated value,
"" when none). Deprecation gauges are computed when scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from proxy.config import DeprecationConfig
from proxy.models import ModelRegistry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LABELS = ("method", "decision", "collection", "model_version")
_STATES = {"": 0, "near": 1, "past": 2}


class DeprecationCollector(Collector):
    """Days to sunset and deprecation state per known model, read at scrape time."""

    def __init__(
        self, models: ModelRegistry, policy: DeprecationConfig, today: Callable[[], date]
    ) -> None:
        self.models = models
        self.policy = policy
        self.today = today

    def collect(self) -> Iterable[Metric]:
        """One sample per model with a sunset date (days) and per model (state)."""
        today = self.today()
        days = GaugeMetricFamily(
            "vecgate_model_days_to_sunset",
            "Days until the model version's announced sunset (negative once past).",
            labels=["model"],
        )
        state = GaugeMetricFamily(
            "vecgate_model_deprecation_state",
            "0: not deprecated, 1: within the warning window, 2: past its sunset.",
            labels=["model"],
        )
        for record in self.models.all():
            name = str(record.identity)
            left = record.days_to_sunset(today)
            if left is not None:
                days.add_metric([name], left)
            state.add_metric([name], _STATES[record.deprecation(today, self.policy)])
        return [days, state]


class DriftCollector(Collector):
    """The drift watch's figures per watched partition, read at scrape time.

    `gauges` is `DriftWatch.gauges`: ``{"<collection>/<version>": {name: value}}`` plus
    ``_watch`` (the queue's counters). Values are NaN before a partition's first scoring.
    """

    def __init__(self, gauges: Callable[[], dict[str, dict[str, float]]]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        """One gauge family per figure, labelled by collection and model version."""
        figures = self.gauges()
        watch = figures.pop("_watch", {})
        families: dict[str, GaugeMetricFamily] = {}
        for key, values in sorted(figures.items()):
            collection, _, version = key.rpartition("/")
            for name, value in values.items():
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        f"vecgate_drift_{name}",
                        f"Drift watch: {name.replace('_', ' ')} of the partition's vectors.",
                        labels=["collection", "model_version"],
                    )
                family.add_metric([collection, version], value)
        queue = GaugeMetricFamily(
            "vecgate_drift_watch", "Drift watch intake, by counter.", labels=["counter"]
        )
        for name, value in sorted(watch.items()):
            queue.add_metric([name], value)
        return [*families.values(), queue]


class Metrics:
    """The counters and histograms of the request path, on a registry of their own."""

    def __init__(
        self, models: ModelRegistry, policy: DeprecationConfig, today: Callable[[], date]
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "vecgate_requests",
            "Requests served, by RPC, decision, logical collection and model version.",
            _LABELS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "vecgate_request_duration_seconds",
            "Time from a request's arrival to its answer, inside vecgate.",
            _LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refusals = Counter(
            "vecgate_refusals",
            "Requests refused, by machine-readable reason and gRPC status.",
            ("reason", "code"),
            registry=self.registry,
        )
        self.points = Counter(
            "vecgate_points_written",
            "Points written (upserted or given new vectors), by collection and model version.",
            ("collection", "model_version"),
            registry=self.registry,
        )
        self.bridged = Counter(
            "vecgate_bridged_queries",
            "Searches answered through a bridge, by collection and the versions it joins.",
            ("collection", "from_version", "to_version"),
            registry=self.registry,
        )
        self.registry.register(DeprecationCollector(models, policy, today))
        self._drift: DriftCollector | None = None
        self._children: dict[tuple[str, str, str, str], tuple[Counter, Histogram]] = {}

    def watch_drift(self, gauges: Callable[[], dict[str, dict[str, float]]]) -> None:
        """Export the drift watch's gauges (`DriftWatch.gauges`) from now on."""
        if self._drift is None:
            self._drift = DriftCollector(gauges)
            self.registry.register(self._drift)

    def observe(
        self,
        method: str,
        decision: str,
        collection: str,
        model_version: str,
        seconds: float,
        *,
        reason: str | None,
        code: str,
        points: int,
    ) -> None:
        """Count one finished request."""
        key = (method, decision, collection, model_version)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(*key),
                self.latency.labels(*key),
            )
        children[0].inc()
        children[1].observe(seconds)
        if decision == "refused":
            self.refusals.labels(reason or "", code).inc()
        if points and decision == "routed":
            self.points.labels(collection, model_version).inc(points)

    def exposition(self) -> bytes:
        """Every metric in Prometheus text format."""
        return generate_latest(self.registry)
