"""Deprecation: warn about (or refuse) requests under a model near or past its sunset.

A request whose model version is within `deprecation.warn_days` of its sunset date,
or past it, carries a ``vecgate-warning`` trailing-metadata entry saying so. Past
the date, `deprecation.on_sunset = "refuse"` refuses it instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from proxy.chain import RequestFilter
from proxy.config import DeprecationConfig
from proxy.envelope import Envelope
from proxy.errors import FailedPrecondition
from proxy.identity import Identity
from proxy.models import ModelRegistry


def utc_today() -> date:
    """Today's date in UTC (sunset dates are calendar days)."""
    return datetime.now(UTC).date()


class Deprecation(RequestFilter):
    """Adds sunset warnings to `env.warnings`, or refuses past the sunset if configured."""

    def __init__(
        self,
        models: ModelRegistry,
        policy: DeprecationConfig,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.models = models
        self.policy = policy
        self.today = today

    def on_request(self, env: Envelope) -> None:
        """Check each model version the request reaches or states."""
        identities: set[Identity] = set()
        if env.partition is not None:
            identities.update(env.partition.binding.values())
        else:
            if env.claim.general is not None:
                identities.add(env.claim.general)
            identities.update(env.claim.per_name.values())
        dated = [(str(i), r) for i in identities if (r := self.models.get(i)) and r.sunset]
        if not dated:  # no sunset date known for any of them: nothing to say
            return
        today = self.today()
        for _, record in sorted(dated, key=lambda pair: pair[0]):
            state = record.deprecation(today, self.policy)
            if state == "past" and self.policy.on_sunset == "refuse":
                raise FailedPrecondition(
                    f"{record.warning(today)}; requests under it are refused "
                    "(deprecation.on_sunset = refuse)",
                    reason="sunset",
                )
            if state:
                env.warnings.append(record.warning(today))
