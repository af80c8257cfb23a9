"""Handler tables: each backend adapter maps full gRPC method paths to its handlers.

HANDLERS: dict[str, Handler] = {}
rpc = registrar(HANDLERS)

@rpc("/qdrant.Points/Search", "/qdrant.Points/SearchBatch")
def search(...): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

H = TypeVar("H")


def registrar(table: dict[str, H]) -> Callable[..., Callable[[H], H]]:
    """A decorator factory registering a handler under each method path it names."""

    def rpc(*methods: str) -> Callable[[H], H]:
        def register(func: H) -> H:
            for method in methods:
                if method in table:
                    raise RuntimeError(f"{method} has two handlers")
                table[method] = func
            return func

        return register

    return rpc
