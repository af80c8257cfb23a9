"""The least a Python gRPC proxy can do: forward every call's bytes to an upstream.

    python -m bench.forwarder UPSTREAM_ADDRESS

Prints ``{"port": P}`` and serves on 127.0.0.1 until SIGTERM. Every unary call, any
method, is sent on as the same bytes over one grpc.aio channel, with the caller's
metadata, and the upstream's reply bytes (or status) come back unchanged: no parsing,
no policy. What it adds over calling the upstream directly is the floor for any proxy
built on Python's grpc.aio, the one vecgate is; the remote benchmark shows it beside
vecgate.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import grpc

from bench.echo import serve_until_sigterm

LIMIT = 64 << 20


class Forward(grpc.GenericRpcHandler):  # type: ignore[misc]
    """A raw-bytes handler for every method, calling the same method upstream."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.calls: dict[str, Any] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        call = self.calls.get(method)
        if call is None:
            call = self.calls[method] = self.channel.unary_unary(method)

        async def forward(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            try:
                reply: bytes = await call(
                    request,
                    metadata=context.invocation_metadata(),
                    timeout=context.time_remaining(),
                )
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
            return reply

        return grpc.unary_unary_rpc_method_handler(forward)


async def serve(upstream: str) -> None:
    """Serve until SIGTERM."""
    options = [("grpc.max_send_message_length", LIMIT), ("grpc.max_receive_message_length", LIMIT)]
    channel = grpc.aio.insecure_channel(upstream, options=options)
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers((Forward(channel),))
    await serve_until_sigterm(server)
    await channel.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
