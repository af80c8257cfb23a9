"""The embedded backend: Qdrant's own Rust engine (`qdrant_edge`) in this process.

Each Qdrant collection is one `qdrant_edge.EdgeShard` in its own directory (see
`catalog`). Requests arrive as Qdrant's gRPC messages and are answered with Qdrant's
responses by the handlers registered in `dispatch.HANDLERS` (`collections`, `writes`,
`reads`). Handlers run inline on the event loop: the engine holds the GIL, so a worker
thread would buy nothing. Engine exceptions are translated here, at one boundary.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adapters.base import Backend
from adapters.embedded import collections, reads, writes
from adapters.embedded.catalog import Catalog, is_engine_panic
from adapters.embedded.dispatch import HANDLERS
from proxy.errors import (
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
    Unimplemented,
    VecgateError,
)

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from proxy.wire_points import PackedPoints

__all__ = ["EmbeddedBackend", "collections", "engine_error", "reads", "writes"]

log = logging.getLogger(__name__)

UPSERT = "/qdrant.Points/Upsert"

#: Engine messages (Qdrant's `OperationError` texts) that mean the request was wrong.
_BAD_INPUT_PREFIXES = (
    "Vector dimension error",
    "Not existing vector name",
    "Payload type does not match",
    "Unable to infer type",
    "Validation failed",
    "Wrong input",
    "Bad request",
    "Bad input",
    "No range index",
    "No appropriate index",
    "Expected ",
    "The expression",
    "invalid",
    "Invalid",
)
_RENAMED = {
    "Wrong usage of sparse vectors": "Conversion between sparse and regular vectors failed",
    "Wrong usage of multi vectors": "Conversion between multi and regular vectors failed",
}
_INCOMPATIBLE = "config is incompatible"


def engine_error(exc: BaseException) -> VecgateError:
    """An engine exception as the error a Qdrant server would answer."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_engine_panic(exc):
        return Internal(f"Service internal error: the engine failed: {text}")
    if text.startswith("No point with id"):
        return NotFound(f"Not found: {text} found", reason="no_point")
    if text in _RENAMED:
        return InvalidArgument(f"Wrong input: {_RENAMED[text]}")
    # ValueError/OverflowError: the engine refused a value the client sent. A TypeError
    # means vecgate built an engine object wrongly: a bug of ours, reported as INTERNAL.
    bad_input = isinstance(exc, ValueError | OverflowError)
    if bad_input or text.startswith(_BAD_INPUT_PREFIXES) or _INCOMPATIBLE in text:
        return InvalidArgument(text if text.startswith("Wrong input") else f"Wrong input: {text}")
    return Internal(f"Service internal error: {text}")


class EmbeddedBackend(Backend):
    """Qdrant's engine in-process; one directory per collection under `data_dir`."""

    kind = "embedded"
    writes_read_tags = True  # builds each point's payload dict: the tags join it there

    def __init__(self, data_dir: Path, *, sync_writes: bool = False) -> None:
        self.catalog = Catalog(Path(data_dir), sync_writes=sync_writes)
        self._closed = False

    async def handle(
        self,
        method: str,
        request: Message,
        *,
        timeout: float | None = None,
        packed: PackedPoints | None = None,
    ) -> Any:
        """Run one RPC inline; the engine call is short and cannot be interrupted."""
        if self._closed:
            raise Unavailable("the embedded backend is closed; the server is shutting down")
        handler = HANDLERS.get(method)
        if handler is None:
            raise Unimplemented(f"{method} is not supported by the embedded engine")
        try:
            if packed is not None and method == UPSERT:  # its points are read already
                return writes.upsert_read(self.catalog, request, packed)  # type: ignore[arg-type]
            return handler(self.catalog, request)
        except VecgateError:
            raise
        except BaseException as exc:
            if not (isinstance(exc, Exception) or is_engine_panic(exc)):
                raise
            error = engine_error(exc)
            if isinstance(error, Internal):
                log.error("%s failed in the engine", method, exc_info=exc)
            raise error from exc

    def supports(self, method: str) -> bool:
        """Whether a handler is registered for this full method path."""
        return method in HANDLERS

    async def ready(self) -> bool:
        """Ready while open."""
        return not self._closed

    async def close(self) -> None:
        """Flush and close every shard."""
        if not self._closed:
            self._closed = True
            self.catalog.close()

    def describe(self) -> dict[str, Any]:
        """Kind, data directory, counts, collections that failed to load."""
        return {"kind": self.kind, "methods": len(HANDLERS), **self.catalog.describe()}
