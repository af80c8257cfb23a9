"""Builds and runs the gRPC server: Qdrant services, health, reflection, HTTP side."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from adapters.base import Backend
from proxy.admin.generated import admin_pb2
from proxy.admin.handlers import admin_handler
from proxy.admin.service import AdminService
from proxy.backends import make_backend
from proxy.config import Config
from proxy.drift.fingerprints import FingerprintBook
from proxy.drift.watch import DriftWatch
from proxy.filters.deprecation import utc_today
from proxy.frontend.ops import SERVICES
from proxy.gateway import Gateway
from proxy.http import HttpSide
from proxy.keys import KeyRing
from proxy.migrations import Migrations
from proxy.models import ModelRegistry
from proxy.readiness import READY_SERVICE, follow_readiness
from proxy.registry import Registry
from proxy.sync import follow_backend, load_state
from proxy.telemetry.observe import Telemetry
from proxy.tls import grpc_credentials, http_context

log = structlog.get_logger("vecgate.server")

GRACE_SECONDS = 5.0
DAY_SECONDS = 24 * 3600.0


@dataclass
class Running:
    """A started server and what it bound."""

    grpc_server: grpc.aio.Server
    http: HttpSide
    backend: Backend
    health: health.HealthServicer
    grpc_port: int
    http_port: int
    tasks: list[asyncio.Task[None]]  # background work: deprecation watch, state refresh
    telemetry: Telemetry | None = None
    drift: DriftWatch | None = None  # the drift watch (`drift.gauges()` for metrics)

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Report NOT_SERVING, let in-flight calls finish, close the backend, flush spans."""
        for task in self.tasks:
            task.cancel()
        self.health.enter_graceful_shutdown()
        if self.telemetry is not None:
            self.telemetry.inspection.close()  # end `vecgate inspect --follow` streams
        await self.http.stop()
        await self.grpc_server.stop(grace)
        await self.backend.close()
        if self.telemetry is not None:
            await asyncio.to_thread(self.telemetry.close)  # exports the queued spans


async def watch_deprecations(config: Config, registry: Registry, models: ModelRegistry) -> None:
    """Log a warning for every model in use near or past its sunset: at start, then daily."""
    while True:
        today = utc_today()
        in_use = {i for p in registry.state.by_physical.values() for i in p.binding.values()}
        for record in models.all():
            state = record.deprecation(today, config.deprecation)
            if state and record.identity in in_use:
                log.warning(
                    "model deprecation",
                    model=str(record.identity),
                    state=state,
                    detail=record.warning(today),
                )
        await asyncio.sleep(DAY_SECONDS)
        await models.refresh()
        await registry.refresh()


async def build_gateway(config: Config) -> Gateway:
    """The backend, the state read from it, and the request path over them."""
    backend = make_backend(config)
    registry = Registry(backend)
    models = ModelRegistry(backend, config.models, config.pin_policy())
    keys = KeyRing(backend, config.keys, config.pin_policy())
    fingerprints = FingerprintBook(backend, config.drift.fingerprint_min_cosine)
    await load_state(registry, models, keys, config.backend.url, fingerprints)
    watch = DriftWatch(config.drift, fingerprints) if config.drift.enabled else None
    telemetry = Telemetry(config, models, backend_kind=backend.kind)
    if watch is not None:
        telemetry.metrics.watch_drift(watch.gauges)
    return Gateway(
        config,
        backend,
        registry,
        models,
        keys,
        telemetry=telemetry,
        fingerprints=fingerprints,
        watch=watch,
    )


async def start(config: Config) -> Running:
    """Start every listener; returns once requests can be served."""
    gateway = await build_gateway(config)
    backend, registry, models, keys = (
        gateway.backend,
        gateway.registry,
        gateway.models,
        gateway.keys,
    )
    telemetry, fingerprints, watch = gateway.telemetry, gateway.fingerprints, gateway.watch
    limit = config.server.max_message_mb * 1024 * 1024
    options: list[tuple[str, int]] = [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.so_reuseport", 0),
    ]
    if config.server.max_connection_age_seconds:
        age_ms = int(config.server.max_connection_age_seconds * 1000)
        options += [  # GOAWAY after the age; calls in flight get a grace to finish
            ("grpc.max_connection_age_ms", age_ms),
            ("grpc.max_connection_age_grace_ms", int(GRACE_SECONDS * 1000)),
        ]
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers(gateway.handlers())
    server.add_generic_rpc_handlers(
        (
            admin_handler(
                AdminService(
                    config,
                    backend,
                    registry=registry,
                    models=models,
                    filters=gateway.filters,
                    migrations=Migrations(config, backend, registry, models, gateway.catalog),
                    keys=keys,
                    inspection=telemetry.inspection,
                    fingerprints=fingerprints,
                    watch=watch,
                ),
            ),
        )
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    admin_name = admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name
    reflection.enable_server_reflection(
        (*SERVICES, admin_name, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    host = config.server.host
    address = f"{host}:{config.server.grpc_port}"
    credentials = grpc_credentials(config.server)
    grpc_port = (
        server.add_secure_port(address, credentials)
        if credentials is not None
        else server.add_insecure_port(address)
    )
    if grpc_port == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{config.server.grpc_port}")
    await server.start()
    http = HttpSide(
        backend_kind=backend.kind,
        grpc_port=grpc_port,
        ready=backend.ready,
        metrics=telemetry.metrics.exposition,
    )
    http_port = await http.start(host, config.server.http_port, tls=http_context(config.server))
    for name in ("", READY_SERVICE, *SERVICES, admin_name):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    tasks = [
        asyncio.create_task(watch_deprecations(config, registry, models)),
        asyncio.create_task(
            follow_readiness(backend, health_servicer, SERVICES, config.server.probe_seconds)
        ),
    ]
    if watch is not None:
        tasks.append(asyncio.create_task(watch.run()))
    if backend.shared:
        interval = config.backend.refresh_seconds
        tasks.append(
            asyncio.create_task(follow_backend(registry, models, keys, interval, fingerprints))
        )
    return Running(
        server, http, backend, health_servicer, grpc_port, http_port, tasks, telemetry, watch
    )


async def serve(config: Config) -> None:
    """Run until SIGTERM or SIGINT, then drain and exit."""
    running = await start(config)
    ready = {
        "event": "ready",
        "grpc": f"{config.server.host}:{running.grpc_port}",
        "http": f"{config.server.host}:{running.http_port}",
        "backend": running.backend.describe(),
        "data_dir": str(config.server.data_dir),
    }
    # One machine-readable line on stdout: tests and scripts wait for it.
    print(json.dumps(ready, default=str), flush=True)
    log.info("ready", **{k: v for k, v in ready.items() if k != "event"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", grace_seconds=GRACE_SECONDS)
    await running.stop()
    log.info("stopped")
    sys.stdout.flush()
