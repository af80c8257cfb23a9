"""The table from full gRPC method path to the embedded engine's handler for it.

Each handler module registers its functions with `@rpc("/qdrant.Points/Search")`.
A handler is synchronous (the engine holds the GIL, so a thread would buy nothing):
it takes the catalog and the native request and returns the native response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from adapters.embedded.catalog import Catalog

Handler = Callable[["Catalog", Any], Any]
HANDLERS: dict[str, Handler] = {}

F = TypeVar("F", bound=Handler)


def rpc(*methods: str) -> Callable[[F], F]:
    """Register the decorated function as the handler of each full method path."""

    def register(func: F) -> F:
        for method in methods:
            if method in HANDLERS:
                raise RuntimeError(f"{method} has two handlers")
            HANDLERS[method] = func
        return func

    return register
