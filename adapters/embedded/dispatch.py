"""The table from full gRPC method path to the embedded engine's handler for it.

Each handler module registers its functions with `@rpc("/qdrant.Points/Search")`.
A handler is synchronous (the engine holds the GIL, so a thread would buy nothing):
it takes the catalog and the native request and returns the native response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from adapters.registry import registrar

if TYPE_CHECKING:
    from adapters.embedded.catalog import Catalog

Handler = Callable[["Catalog", Any], Any]
HANDLERS: dict[str, Handler] = {}

rpc = registrar(HANDLERS)
