"""The Milvus backend: Qdrant's gRPC requests answered by a Milvus server through pymilvus.

`--backend milvus://HOST:19530` reaches a Milvus standalone or distributed server;
`--backend milvus-lite:PATH` starts milvus-lite (a pure-Python Milvus server) as a
child process over the data directory PATH. Each Qdrant collection (one vecgate
partition) is one Milvus collection (`schema`); requests are translated once, here
(`collections`, `writes`, `reads`, `search`; filters in `filters`), and whatever
Milvus cannot answer exactly is refused with UNIMPLEMENTED or INVALID_ARGUMENT
naming the construct. Routing state lives in Milvus: collection properties and aliases.

    backend = MilvusBackend("http://127.0.0.1:19530", config.backend)
    reply = await backend.handle("/qdrant.Points/Search", request, timeout=5.0)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from adapters.base import Backend
from adapters.milvus import collections, reads, search, writes
from adapters.milvus.connection import Connection
from adapters.milvus.dispatch import HANDLERS
from adapters.milvus.errors import translate
from adapters.milvus.lite import LiteServer
from proxy.config import BackendConfig
from proxy.errors import Internal, Unimplemented, VecgateError
from proxy.wire_points import PackedPoints

__all__ = ["MilvusBackend", "collections", "reads", "search", "writes"]

log = logging.getLogger(__name__)
READY_TIMEOUT = 1.0


class MilvusBackend(Backend):
    """Qdrant requests translated to Milvus; milvus-lite started as a child when asked."""

    kind = "milvus"

    def __init__(self, config: BackendConfig, *, uri: str | None = None, lite: Path | None = None):
        self.lite = LiteServer(lite).start() if lite is not None else None
        target = self.lite.uri if self.lite is not None else uri
        assert target is not None
        # milvus-lite belongs to this process; a Milvus server may have other replicas.
        self.shared = self.lite is None
        self.conn = Connection(
            target,
            token=config.api_key or "",
            consistency=config.consistency,
            timeout=config.timeout_seconds,
            flush_rows=config.milvus_lite_flush_rows,
        )

    def supports(self, method: str) -> bool:
        """Whether a handler is registered for this full method path."""
        return method in HANDLERS

    async def handle(
        self,
        method: str,
        request: Message,
        *,
        timeout: float | None = None,
        packed: PackedPoints | None = None,
    ) -> Any:
        """Translate and run one RPC."""
        handler = HANDLERS.get(method)
        if handler is None:
            name = method.rsplit("/", 1)[-1]
            raise Unimplemented(f"{name} is not supported on the Milvus backend")
        try:
            async with asyncio.timeout(timeout):  # no extra task, unlike wait_for
                return await handler(self.conn, request)
        except VecgateError:
            raise
        except TimeoutError as exc:
            raise translate(exc, self.conn.where, method) from exc
        except Exception as exc:
            error = translate(exc, self.conn.where, method.rsplit("/", 1)[-1])
            if isinstance(error, Internal):
                log.error("%s failed on Milvus", method, exc_info=exc)
            raise error from exc

    async def ready(self) -> bool:
        """Whether Milvus answers a collection listing within a second."""
        try:
            await asyncio.wait_for(self.conn.client.list_collections(), READY_TIMEOUT)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Close the client; stop milvus-lite if vecgate started it."""
        try:
            await self.conn.close()
        finally:
            if self.lite is not None:
                self.lite.stop()

    def describe(self) -> dict[str, Any]:
        """Kind, address, consistency level."""
        return {
            "kind": self.kind,
            "address": self.conn.where,
            "lite_data_dir": str(self.lite.data_dir) if self.lite else None,
            "consistency": self.conn.consistency,
            "methods": len(HANDLERS),
        }
