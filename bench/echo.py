"""A bare Python gRPC hop: answers every qdrant.Points/Query with the same canned bytes.

    python -m bench.echo REPLY_FILE

Prints ``{"port": P}`` and serves on 127.0.0.1 until SIGTERM. No parsing, no work:
what is left is the cost of one Python grpc.aio server hop, the floor the remote
benchmark compares vecgate's added latency with.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import grpc


async def serve(reply: bytes) -> None:
    """Serve until SIGTERM."""

    async def query(request: bytes, context: Any) -> bytes:
        return reply

    handler = grpc.method_handlers_generic_handler(
        "qdrant.Points", {"Query": grpc.unary_unary_rpc_method_handler(query)}
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    await serve_until_sigterm(server)


async def serve_until_sigterm(server: grpc.aio.Server) -> None:
    """Listen on a free loopback port, print ``{"port": P}``, serve until SIGTERM."""
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]).read_bytes()))
