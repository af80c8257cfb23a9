"""The table from full gRPC method path to the Milvus adapter's handler for it.

A handler is a coroutine taking the `Connection` and the native Qdrant request and
returning the native Qdrant response; modules register with `@rpc(path)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from adapters.milvus.connection import Connection

Handler = Callable[["Connection", Any], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}

F = TypeVar("F", bound=Handler)


def rpc(*methods: str) -> Callable[[F], F]:
    """Register the decorated coroutine as the handler of each full method path."""

    def register(func: F) -> F:
        for method in methods:
            if method in HANDLERS:
                raise RuntimeError(f"{method} has two handlers")
            HANDLERS[method] = func
        return func

    return register
