"""The HTTP side, as a Qdrant server answers it: `GET /` (version), `/healthz`,
`/livez`, `/readyz`. qdrant-client calls `GET /` at start-up to compare versions.
`GET /metrics` is vecgate's own: Prometheus text format.

The REST API itself is not proxied: every other path answers 404 with a sentence
pointing at the gRPC port.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable

from proxy.version import QDRANT_PROTOCOL_VERSION, QDRANT_TITLE, VECGATE_VERSION

Ready = Callable[[], Awaitable[bool]]
Exposition = Callable[[], bytes]
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HttpSide:
    """A small HTTP/1.1 responder on asyncio streams (GET only, one request per connection)."""

    def __init__(
        self,
        *,
        backend_kind: str,
        grpc_port: int,
        ready: Ready,
        metrics: Exposition | None = None,
    ) -> None:
        self.backend_kind = backend_kind
        self.grpc_port = grpc_port
        self.ready = ready
        self.metrics = metrics
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
        """Listen (over TLS with `tls`); returns the bound port (useful when `port` is 0)."""
        self.server = await asyncio.start_server(self._serve, host, port, ssl=tls)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            status, content_type, body = await self._answer(method, path.split("?", 1)[0])
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (body if method != "HEAD" else b"")
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return self._json(405, {"status": {"error": f"{method} is not supported here"}})
        if path == "/":
            return self._json(
                200,
                {
                    "title": QDRANT_TITLE,
                    "version": QDRANT_PROTOCOL_VERSION,
                    "vecgate": {"version": VECGATE_VERSION, "backend": self.backend_kind},
                },
            )
        if path in ("/healthz", "/livez"):
            return 200, "text/plain", f"{path[1:]} check passed".encode()
        if path == "/metrics" and self.metrics is not None:
            return 200, METRICS_CONTENT_TYPE, self.metrics()
        if path == "/readyz":
            if await self.ready():
                return 200, "text/plain", b"all shards are ready"
            return 503, "text/plain", b"backend is not ready"
        return self._json(
            404,
            {
                "status": {
                    "error": f"{path} is not served: vecgate speaks the Qdrant API over gRPC on "
                    f"port {self.grpc_port} (QdrantClient(..., prefer_grpc=True))"
                }
            },
        )

    @staticmethod
    def _json(status: int, data: object) -> tuple[int, str, bytes]:
        return status, "application/json", json.dumps(data).encode()
