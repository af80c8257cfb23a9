"""Keeping this replica's view of routing state in step with the backend's.

Routing state (partitions, active versions, aliases), registered models and added
keys live in
the backend. On a backend that other vecgate replicas also write to, each replica
re-reads them every `backend.refresh_seconds`; a refusal that may come from a change
made a moment ago elsewhere is re-checked at once (`Registry.fresh`).
"""

from __future__ import annotations

import asyncio

import structlog

from proxy.drift.fingerprints import FingerprintBook
from proxy.errors import DeadlineExceeded, Unavailable, VecgateError
from proxy.keys import KeyRing
from proxy.models import ModelRegistry
from proxy.registry import Registry

log = structlog.get_logger("vecgate.sync")

FIRST_RETRY_SECONDS = 0.25
MAX_RETRY_SECONDS = 5.0


async def load_state(
    registry: Registry,
    models: ModelRegistry,
    keys: KeyRing,
    target: str,
    fingerprints: FingerprintBook | None = None,
) -> None:
    """Read routing state, models and keys, retrying until the backend answers.

    vecgate serves nothing before it knows where requests go: without routing state
    every collection would look absent. A backend that is not up yet is waited for; one
    that refuses vecgate (bad credentials, say) stops start-up with its sentence.
    """
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            await registry.refresh()
            await models.refresh()
            await keys.refresh()
            if fingerprints is not None:
                await fingerprints.refresh()
            return
        except (Unavailable, DeadlineExceeded) as exc:
            log.warning("waiting for the backend", backend=target, error=exc.message, retry_s=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


async def follow_backend(
    registry: Registry,
    models: ModelRegistry,
    keys: KeyRing,
    interval: float,
    fingerprints: FingerprintBook | None = None,
) -> None:
    """Re-read routing state, models, keys and fingerprint states every `interval` seconds."""
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            await registry.refresh()
            await models.refresh()
            await keys.refresh()
            if fingerprints is not None:
                await fingerprints.refresh()
        except VecgateError as exc:
            if not failing:  # one line per outage, not one per second
                log.warning(
                    "routing state refresh failed; serving the last state read", error=exc.message
                )
            failing = True
            continue
        if failing:
            log.info("routing state refresh recovered")
        failing = False
