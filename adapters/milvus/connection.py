"""One pymilvus client, the collection specs it has read, and the calls every handler makes.

Every call goes through `Connection.call`, which applies the deadline and turns
Milvus failures into `proxy.errors` (`errors.translate`). Searches and queries ask
for the configured consistency level (Strong by default: a write acknowledged to a
client is visible to its next search, decision 30).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymilvus import AsyncMilvusClient

from adapters.milvus.errors import translate
from adapters.milvus.schema import CollectionSpec, spec_from_properties
from proxy.errors import FailedPrecondition, NotFound

T = TypeVar("T")

#: pymilvus logs every failed RPC with a traceback at ERROR; vecgate reports them itself.
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)


def not_found(name: str) -> NotFound:
    """Qdrant's sentence for a missing collection."""
    return NotFound(f"Not found: Collection `{name}` doesn't exist!", reason="no_collection")


class Connection:
    """The pymilvus client of one backend, with what it learnt about collections."""

    def __init__(self, uri: str, *, token: str, consistency: str, timeout: float) -> None:
        self.where = uri
        self.client = AsyncMilvusClient(uri=uri, token=token, timeout=timeout)
        self.consistency = consistency
        self.timeout = timeout
        self._specs: dict[str, CollectionSpec] = {}

    async def call(
        self, what: str, make: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
    ) -> T:
        """Run one pymilvus coroutine; its failures as `proxy.errors`."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            return await make(*args, **kwargs)
        except Exception as exc:
            raise translate(exc, self.where, what) from exc

    async def exists(self, name: str) -> bool:
        """Whether a collection (or alias) of that name exists."""
        return bool(await self.call("HasCollection", self.client.has_collection, name))

    async def spec(self, name: str) -> CollectionSpec:
        """The spec of collection `name` (cached; NOT_FOUND if it does not exist)."""
        spec = self._specs.get(name)
        if spec is not None:
            return spec
        if not await self.exists(name):
            raise not_found(name)
        described = await self.call("DescribeCollection", self.client.describe_collection, name)
        spec = spec_from_properties(name, dict(described.get("properties") or {}))
        if spec is None:
            raise FailedPrecondition(
                f"Milvus collection `{name}` was not created through vecgate (it has no "
                "vecgate.config property); vecgate serves only collections it created"
            )
        # A collection is searchable only once loaded; after a Milvus restart it is not.
        # Loading an already loaded collection is a no-op, so once per process is enough.
        await self.call("LoadCollection", self.client.load_collection, name)
        self._specs[name] = spec
        return spec

    def forget(self, name: str) -> None:
        """Drop the cached spec of `name` (after a delete or a metadata change)."""
        self._specs.pop(name, None)

    def remember(self, spec: CollectionSpec) -> None:
        """Cache a spec just written."""
        self._specs[spec.name] = spec

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()
