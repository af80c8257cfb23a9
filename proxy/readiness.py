"""Readiness: the gRPC health service follows the backend.

Service ``""`` means "the process is alive" (liveness: a backend outage must not
restart every replica). Service ``vecgate.ready`` and the Qdrant service names mean
"requests can be served now": they turn NOT_SERVING within two probe intervals of
the backend failing its health check, and SERVING again once it answers. Requests
in between get UNAVAILABLE from the backend adapter, never OK for a lost write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from grpc_health.v1 import health, health_pb2

from adapters.base import Backend

log = structlog.get_logger("vecgate.readiness")

READY_SERVICE = "vecgate.ready"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def follow_readiness(
    backend: Backend, servicer: health.HealthServicer, services: Iterable[str], interval: float
) -> None:
    """Probe the backend every `interval` seconds and set the services' status."""
    names = (READY_SERVICE, *services)
    ready = True
    while True:
        await asyncio.sleep(interval)
        now = await backend.ready()
        if now == ready:
            continue
        ready = now
        for name in names:
            servicer.set(name, SERVING if ready else NOT_SERVING)
        if ready:
            log.info("backend ready again: serving", backend=backend.describe())
        else:
            log.warning("backend failed its health check: not ready", backend=backend.describe())
