"""A plain Qdrant gRPC server over the embedded engine: the upstream for remote-backend tests.

No Qdrant server can run on this machine, so tests (and `make bench`) start this one:
Qdrant's own engine (qdrant-edge) behind Qdrant's gRPC services, with no policy at all.

    python -m tests.upstream --data-dir D [--port P] [--stall qdrant.Points/Search]
        [--exhaust qdrant.Points/Search] [--api-key K] [--tls-cert C --tls-key K]
        [--forget-metadata] [--delay SECONDS]

prints one JSON line ``{"event": "ready", "port": P}`` and serves until SIGTERM. A
stalled method never answers; when its caller gives up, the server prints
``{"event": "cancelled", "method": ...}``, which is how a test sees that vecgate
cancelled the upstream call. An exhausted method answers RESOURCE_EXHAUSTED with
``retry-after: 7``; with an api-key, calls without it are UNAUTHENTICATED, as Qdrant's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 256 * 1024 * 1024


RETRY_AFTER = "7"
_SLOWED = frozenset({"/qdrant.Points/Search", "/qdrant.Points/Query"})


@dataclass(frozen=True)
class Faults:
    """What the upstream does wrong on purpose."""

    stall: frozenset[str] = frozenset()
    delay: float = 0.0  # seconds every Search/Query waits before it is answered
    exhaust: frozenset[str] = frozenset()
    api_key: str | None = None
    forget_metadata: bool = False  # as a Qdrant server without collection metadata


def _handlers(backend: Any, faults: Faults) -> list[grpc.GenericRpcHandler[Any, Any]]:
    from qdrant_client.grpc import qdrant_pb2

    from proxy.errors import VecgateError
    from proxy.frontend.ops import OPS, Kind

    def unary(method: str) -> Any:
        async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            sent = dict(context.invocation_metadata() or ())
            if faults.api_key is not None and sent.get("api-key") != faults.api_key:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "Invalid api-key")
            if method in faults.exhaust:
                context.set_trailing_metadata((("retry-after", RETRY_AFTER),))
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Too many requests")
            if faults.delay and method in _SLOWED:
                await asyncio.sleep(faults.delay)
            if method in faults.stall:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    print(json.dumps({"event": "cancelled", "method": method}), flush=True)
                    raise
            if faults.forget_metadata and hasattr(request, "metadata"):
                request.ClearField("metadata")
            if OPS[method].kind is Kind.HEALTH:
                return qdrant_pb2.HealthCheckReply(title="qdrant-upstream", version="1.16.0")
            if not backend.supports(method):
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} not served")
            try:
                return await backend.handle(method, request, timeout=context.time_remaining())
            except VecgateError as exc:
                await context.abort(exc.code, exc.message)

        return handler

    services: dict[str, dict[str, grpc.RpcMethodHandler[Any, Any]]] = {}
    for op in OPS.values():
        services.setdefault(op.service, {})[op.name] = grpc.unary_unary_rpc_method_handler(
            unary(op.method),
            request_deserializer=op.request_type.FromString,
            response_serializer=op.response_type.SerializeToString,
        )
    return [grpc.method_handlers_generic_handler(s, m) for s, m in services.items()]


async def _serve(data_dir: Path, port: int, faults: Faults, tls: tuple[Path, Path] | None) -> None:
    from adapters.embedded import EmbeddedBackend

    backend = EmbeddedBackend(data_dir)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", LIMIT),
            ("grpc.max_send_message_length", LIMIT),
            ("grpc.so_reuseport", 0),
        ]
    )
    server.add_generic_rpc_handlers(_handlers(backend, faults))
    address = f"127.0.0.1:{port}"
    if tls is None:
        bound = server.add_insecure_port(address)
    else:
        pair = (tls[1].read_bytes(), tls[0].read_bytes())
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
    await server.start()
    print(json.dumps({"event": "ready", "port": bound}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1.0)
    await backend.close()


def main() -> None:
    """Run the upstream until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stall", action="append", default=[], help="e.g. qdrant.Points/Search")
    parser.add_argument("--exhaust", action="append", default=[])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per search")
    parser.add_argument("--api-key")
    parser.add_argument("--forget-metadata", action="store_true")
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    args = parser.parse_args()
    faults = Faults(
        stall=frozenset("/" + name.lstrip("/") for name in args.stall),
        delay=args.delay,
        exhaust=frozenset("/" + name.lstrip("/") for name in args.exhaust),
        api_key=args.api_key,
        forget_metadata=args.forget_metadata,
    )
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    asyncio.run(_serve(args.data_dir, args.port, faults, tls))


class UpstreamProcess:
    """The upstream above as a child process (so a test can kill it and start it again)."""

    def __init__(self, data_dir: Path, *extra: str, port: int = 0) -> None:
        """`extra`: more flags of `python -m tests.upstream` (``--stall M``, ``--api-key K``)."""
        self.data_dir = data_dir
        self.port = port
        self.extra = extra
        self.scheme = "qdrants" if "--tls-cert" in extra else "qdrant"
        self.proc: subprocess.Popen[str] | None = None
        self.events: list[dict[str, Any]] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> UpstreamProcess:
        """Start it (on the same port as before, after a restart) and wait until it serves."""
        args = [sys.executable, "-m", "tests.upstream", "--data-dir", str(self.data_dir)]
        args += ["--port", str(self.port), *self.extra]
        self.events = []
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("{") and json.loads(line).get("event") == "ready":
                self.port = int(json.loads(line)["port"])
                self._reader = threading.Thread(
                    target=self._read_events, args=(self.proc,), daemon=True
                )
                self._reader.start()
                return self
        self.kill()
        raise RuntimeError("the Qdrant upstream did not start")

    def _read_events(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                self.events.append(json.loads(line))

    @property
    def url(self) -> str:
        """The `--backend` address of this upstream."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: the upstream vanishes mid-whatever it was doing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self._reap()

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()

    def _reap(self) -> None:
        if self.proc is None:
            return
        self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        if self.proc.stdout is not None:
            self.proc.stdout.close()


if __name__ == "__main__":
    main()
