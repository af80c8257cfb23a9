"""The backend contract: one operation that takes a native Qdrant request message.

A backend receives the request exactly as a Qdrant server would (collection names
already rewritten to physical index names by the gateway) and returns the native
response message. It raises only `proxy.errors.VecgateError` subclasses: its own
exceptions are translated at this boundary, never passed through.

    backend = EmbeddedBackend(Path("./vecgate-data"))
    reply = await backend.handle("/qdrant.Points/Search", request, timeout=5.0)
    await backend.close()

Trace context: a backend that calls a remote server forwards the request's W3C
trace headers with its call, read at call time from the running request's context
(no extra argument): `proxy.telemetry.propagation.trace_headers()` returns
``{"traceparent": ...}`` (plus ``tracestate`` if any), or ``{}``. With tracing on it
names vecgate's backend span, which `handle` runs inside; with tracing off it is
the client's own header, passed through.

    metadata = (*self.auth_metadata, *trace_headers().items())

An Upsert also comes with `packed`: what the gateway already read of its wire bytes
(`proxy.wire_points.PackedPoints`: every vector and id in one pass). The policy only
adds payload entries after that read, so its vectors and ids are the request's; a
backend that builds its own points from them need not read the request again.

A backend that sets `writes_read_tags` takes the Tag filter's two payload entries
(model, version) from `packed.tags` instead of from every point of the request: the
filter then leaves the points as sent, and the backend must write those entries on
every point of that Upsert, in the same operation (decision 49). The others get the
entries written into the request by the filter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

if TYPE_CHECKING:
    from proxy.wire_points import PackedPoints


class Backend(ABC):
    """A vector database reached through Qdrant's gRPC messages."""

    #: Short name shown in logs and `GET /` (``embedded``, ``qdrant``, ``milvus``).
    kind: str = "backend"
    #: Whether other processes (vecgate replicas) may change the state behind it, so that
    #: routing state must be re-read rather than trusted from this process's cache.
    shared: bool = False
    #: Whether an Upsert's tag entries may come as `packed.tags` (see the module doc).
    writes_read_tags: bool = False

    @abstractmethod
    async def handle(
        self,
        method: str,
        request: Message,
        *,
        timeout: float | None = None,
        packed: PackedPoints | None = None,
    ) -> Any:
        """Run one RPC, named by its full gRPC path (``/qdrant.Points/Search``);
        `packed`: an Upsert's points as the gateway read them (may be ignored)."""

    @abstractmethod
    def supports(self, method: str) -> bool:
        """Whether `handle` implements this full method path."""

    async def ready(self) -> bool:
        """Whether the backend can serve requests now (readiness probe)."""
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook, most backends need it
        """Release resources; the backend is unusable afterwards."""

    def describe(self) -> dict[str, Any]:
        """A small JSON-able description for operators."""
        return {"kind": self.kind}
