"""The table from full gRPC method path to the Milvus adapter's handler for it.

A handler is a coroutine taking the `Connection` and the native Qdrant request and
returning the native Qdrant response; modules register with `@rpc(path)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from adapters.registry import registrar

if TYPE_CHECKING:
    from adapters.milvus.connection import Connection

Handler = Callable[["Connection", Any], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}

rpc = registrar(HANDLERS)
