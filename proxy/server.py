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
from proxy.backends import make_backend
from proxy.config import Config
from proxy.frontend.ops import SERVICES
from proxy.gateway import Gateway
from proxy.http import HttpSide
from proxy.registry import Registry

log = structlog.get_logger("vecgate.server")

GRACE_SECONDS = 5.0


@dataclass
class Running:
    """A started server and what it bound."""

    grpc_server: grpc.aio.Server
    http: HttpSide
    backend: Backend
    health: health.HealthServicer
    grpc_port: int
    http_port: int

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Report NOT_SERVING, let in-flight calls finish, close the backend."""
        self.health.enter_graceful_shutdown()
        await self.http.stop()
        await self.grpc_server.stop(grace)
        await self.backend.close()


async def start(config: Config) -> Running:
    """Start every listener; returns once requests can be served."""
    backend = make_backend(config)
    registry = Registry(backend)
    await registry.refresh()
    gateway = Gateway(config, backend, registry)
    limit = config.server.max_message_mb * 1024 * 1024
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers(gateway.handlers())
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    host = config.server.host
    grpc_port = server.add_insecure_port(f"{host}:{config.server.grpc_port}")
    if grpc_port == 0:
        raise OSError(f"cannot listen for gRPC on {host}:{config.server.grpc_port}")
    await server.start()
    http = HttpSide(backend_kind=backend.kind, grpc_port=grpc_port, ready=backend.ready)
    http_port = await http.start(host, config.server.http_port)
    for name in ("", *SERVICES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Running(server, http, backend, health_servicer, grpc_port, http_port)


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
