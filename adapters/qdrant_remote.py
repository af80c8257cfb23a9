"""The remote backend: a Qdrant server (or cluster) reached over gRPC.

The request a client sent, already rewritten by the filter chain, is forwarded as the
same native message over a small pool of long-lived channels: no conversion into any
other model. The caller's remaining deadline goes with it (or the configured default),
message size limits are explicit on this leg, and every upstream failure becomes one
error of `proxy.errors` with a sentence: a raw gRPC exception never reaches a client.

    backend = RemoteQdrantBackend(RemoteAddress("qdrant", 6334, tls=False), config.backend)
    reply = await backend.handle("/qdrant.Points/Search", request, timeout=0.2)
"""

from __future__ import annotations

import itertools
from typing import Any

import grpc
from google.protobuf.message import Message
from qdrant_client.grpc import qdrant_pb2

from adapters.base import Backend
from proxy.config import BackendConfig, RemoteAddress
from proxy.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    Unimplemented,
    VecgateError,
)
from proxy.frontend.ops import OPS, Kind
from proxy.telemetry.propagation import trace_headers
from proxy.wire_points import PackedPoints

HEALTH_METHOD = "/qdrant.Qdrant/HealthCheck"
READY_TIMEOUT = 1.0

#: Upstream statuses the client caused: passed on with Qdrant's own sentence.
_CLIENT_FAULTS: dict[grpc.StatusCode, type[VecgateError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
}
#: Upstream statuses after which the same call may simply be sent again.
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED}


class RemoteQdrantBackend(Backend):
    """Forwards native Qdrant requests to a Qdrant server over pooled gRPC channels."""

    kind = "qdrant"
    shared = True

    def __init__(self, address: RemoteAddress, config: BackendConfig) -> None:
        self.address = address
        self.default_timeout = config.timeout_seconds
        limit = config.max_message_mb * 1024 * 1024
        options = [
            ("grpc.max_send_message_length", limit),
            ("grpc.max_receive_message_length", limit),
            # Each channel keeps its own connection, so the pool spreads load over them.
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.http2.max_pings_without_data", 0),
            # After an outage, find the server again within about a second (gRPC's default
            # backoff grows to two minutes).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        credentials = _credentials(config) if address.tls else None
        self._channels = [
            grpc.aio.secure_channel(address.target, credentials, options=options)
            if credentials is not None
            else grpc.aio.insecure_channel(address.target, options=options)
            for _ in range(config.channels)
        ]
        self._turn = itertools.cycle(range(len(self._channels)))
        self._metadata: tuple[tuple[str, str], ...] = (
            (("api-key", config.api_key),) if config.api_key else ()
        )
        self._calls: list[dict[str, Any]] = [{} for _ in self._channels]

    def supports(self, method: str) -> bool:
        """Every Qdrant RPC the gateway forwards (a Qdrant server implements them all)."""
        op = OPS.get(method)
        return op is not None and op.kind is not Kind.UNSUPPORTED

    async def handle(
        self,
        method: str,
        request: Message,
        *,
        timeout: float | None = None,
        packed: PackedPoints | None = None,
    ) -> Any:
        """Send `request` to the upstream `method`; its reply, or a `VecgateError`."""
        return await self._send(next(self._turn), method, request, timeout)

    async def _send(self, turn: int, method: str, request: Message, timeout: float | None) -> Any:
        call = self._callable(method, turn)
        traced = trace_headers()  # W3C traceparent: the server's span joins the client's trace
        try:
            return await call(
                request,
                timeout=timeout if timeout is not None else self.default_timeout,
                metadata=(*self._metadata, *traced.items()) if traced else self._metadata,
            )
        except grpc.aio.AioRpcError as exc:
            raise self._translate(method, exc) from None

    def _callable(self, method: str, turn: int) -> Any:
        calls = self._calls[turn]
        call = calls.get(method)
        if call is None:
            op = OPS.get(method)
            if op is None:
                raise Internal(f"vecgate asked the backend for an unknown RPC {method}")
            call = self._channels[turn].unary_unary(
                method,
                request_serializer=op.request_type.SerializeToString,
                response_deserializer=op.response_type.FromString,
            )
            calls[method] = call
        return call

    def _translate(self, method: str, exc: grpc.aio.AioRpcError) -> VecgateError:
        code, details = exc.code(), (exc.details() or "").strip()
        where = f"the Qdrant backend at {self.address.target}"
        name = method.rsplit("/", 1)[-1]
        if code in _CLIENT_FAULTS:
            return _CLIENT_FAULTS[code](details or f"{where} refused {name} ({code.name})")
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
            return ResourceExhausted(
                f"the message to or from {where} is larger than backend.max_message_mb "
                f"allows ({_first_line(details)}); send fewer points per request or raise "
                "the limit"
            )
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return ResourceExhausted(
                f"{where} is overloaded: {details}", retry_after=_retry_after(exc)
            )
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineExceeded(
                f"{where} did not answer {name} before the deadline; the write may or may "
                "not have been applied, so retry only idempotent calls (upserts are)"
                if OPS[method].kind is Kind.WRITE
                else f"{where} did not answer {name} before the deadline"
            )
        if code in _RETRYABLE:
            return Unavailable(
                f"{where} is unavailable ({_first_line(details) or code.name}); "
                "the same call may be retried"
            )
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return Unimplemented(f"{where} does not implement {name}: {details}")
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return Internal(
                f"{where} refused vecgate's credentials ({code.name}); an operator must set "
                "backend.api_key (or VECGATE_BACKEND_API_KEY) to the backend's key"
            )
        return Internal(f"{where} failed on {name} ({code.name}): {_first_line(details)}")

    async def ready(self) -> bool:
        """Whether the upstream answers its health check within a second on every pooled
        channel (after an outage each reconnects on its own; ready means all have)."""
        try:
            for turn in range(len(self._channels)):
                await self._send(
                    turn, HEALTH_METHOD, qdrant_pb2.HealthCheckRequest(), READY_TIMEOUT
                )
        except VecgateError:
            return False
        return True

    async def close(self) -> None:
        """Close every channel; in-flight calls are cancelled."""
        for channel in self._channels:
            await channel.close(None)

    def describe(self) -> dict[str, Any]:
        """Kind, address and whether TLS is on (never the api-key)."""
        return {
            "kind": self.kind,
            "address": self.address.target,
            "tls": self.address.tls,
            "channels": len(self._channels),
        }


def _credentials(config: BackendConfig) -> grpc.ChannelCredentials:
    roots = config.ca_file.read_bytes() if config.ca_file else None
    return grpc.ssl_channel_credentials(root_certificates=roots)


def _retry_after(exc: grpc.aio.AioRpcError) -> float | None:
    items: Any = exc.trailing_metadata() or ()  # (key, value) tuples at run time
    for key, value in items:
        if key == "retry-after":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
    return None


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else ""
