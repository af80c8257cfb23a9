"""A bare grpc.aio relay: forwards every unary call's bytes to one upstream, untouched.

    python -m bench.relay HOST:PORT

Prints ``{"port": P}`` and serves on 127.0.0.1 until SIGTERM. No parsing, no work:
one Python grpc.aio server hop plus one grpc.aio client hop, the floor of any Python
gRPC proxy, which the Milvus benchmark compares vecgate's added latency with
(pymilvus pointed at the relay instead of at milvus-lite).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import grpc


class _Forward(grpc.GenericRpcHandler):
    """Every method: the request bytes to the upstream, its reply bytes back."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = details.method  # type: ignore[attr-defined]
        handler = self.handlers.get(method)
        if handler is None:
            call = self.channel.unary_unary(method)

            async def forward(request: bytes, context: Any) -> bytes:
                reply: bytes = await call(request, timeout=60)
                return reply

            handler = grpc.unary_unary_rpc_method_handler(forward)
            self.handlers[method] = handler
        return handler


async def serve(target: str) -> None:
    """Serve until SIGTERM."""
    channel = grpc.aio.insecure_channel(target)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_Forward(channel),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)
    await channel.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
