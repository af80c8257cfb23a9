"""A tiny record store inside the backend: one point per record, its JSON in the payload.

vecgate keeps the state every replica must share (registered models, migrations)
in the backend itself, in collections named ``vg__<what>``. The engines require a
vector, so each point carries a one-dimensional placeholder.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb

from adapters.base import Backend
from proxy.errors import AlreadyExists, NotFound

_NAMESPACE = uuid.UUID("7a1f3c1e-4b3e-4c55-9a51-6c0e5f4b2d10")


class RecordStore:
    """JSON records by key, in one backend collection."""

    def __init__(self, backend: Backend, collection: str) -> None:
        self.backend = backend
        self.collection = collection

    async def all(self) -> list[str]:
        """Every stored record (empty when the collection does not exist yet)."""
        records: list[str] = []
        offset: Any = None
        while True:
            request = ppb.ScrollPoints(
                collection_name=self.collection,
                limit=256,
                with_payload=ppb.WithPayloadSelector(enable=True),
            )
            if offset is not None:
                request.offset.CopyFrom(offset)
            try:
                reply = await self.backend.handle("/qdrant.Points/Scroll", request)
            except NotFound:
                return records
            records += [point.payload["record"].string_value for point in reply.result]
            if not reply.HasField("next_page_offset"):
                return records
            offset = reply.next_page_offset

    async def get(self, key: str) -> str | None:
        """The record under `key`, or None."""
        request = ppb.GetPoints(
            collection_name=self.collection,
            with_payload=ppb.WithPayloadSelector(enable=True),
        )
        request.ids.add().uuid = self._point_id(key)
        try:
            reply = await self.backend.handle("/qdrant.Points/Get", request)
        except NotFound:
            return None
        if not reply.result:
            return None
        text: str = reply.result[0].payload["record"].string_value
        return text

    async def put(self, key: str, record: str) -> None:
        """Store (or replace) the record under `key`."""
        await self._ensure()
        point = ppb.PointStruct()
        point.id.uuid = self._point_id(key)
        point.vectors.vector.dense.data.append(1.0)
        point.payload["record"].string_value = record
        request = ppb.UpsertPoints(collection_name=self.collection, wait=True, points=[point])
        await self.backend.handle("/qdrant.Points/Upsert", request)

    async def delete(self, key: str) -> None:
        """Remove the record under `key` (nothing happens when there is none)."""
        request = ppb.DeletePoints(collection_name=self.collection, wait=True)
        request.points.points.ids.add().uuid = self._point_id(key)
        with contextlib.suppress(NotFound):
            await self.backend.handle("/qdrant.Points/Delete", request)

    def _point_id(self, key: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.collection}\0{key}"))

    async def _ensure(self) -> None:
        exists = await self.backend.handle(
            "/qdrant.Collections/CollectionExists",
            cpb.CollectionExistsRequest(collection_name=self.collection),
        )
        if exists.result.exists:
            return
        create = cpb.CreateCollection(collection_name=self.collection)
        create.vectors_config.params.size = 1
        create.vectors_config.params.distance = cpb.Distance.Dot
        with contextlib.suppress(AlreadyExists):  # another replica created it meanwhile
            await self.backend.handle("/qdrant.Collections/Create", create)
