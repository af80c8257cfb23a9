"""A bridge as the backend keeps it: a small record per (collection, from-version), and
its map, stored apart in chunks and read only when its version changes.

- ``vg__bridges``: one JSON record per bridge, keyed by collection and from-version:
  both partitions (physical name and creation time), the map's version, kind, shape
  and checksum, whether it is enabled, and the figures of its training. Every replica
  reads these with the routing state.
- ``vg__bridge_maps``: the map's float32 weights and bias, base64 in chunks of at most
  48,000 characters (a backend payload stays small: Milvus keeps it in a JSON field),
  keyed by collection, from-version, map version and chunk number. A map version is
  never rewritten, so a replica that has read it keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from adapters.base import Backend
from proxy.bridge.fit import LinearMap
from proxy.errors import Internal
from proxy.store import RecordStore

RECORDS = "vg__bridges"
MAPS = "vg__bridge_maps"
CHUNK = 48_000


@dataclass
class BridgeRecord:
    """One bridge: from which version into which, its current map, enabled or not."""

    collection: str
    source: str  # identity whose queries are mapped (the new version)
    target: str  # identity whose index answers (the old version)
    source_physical: str  # "" when the source has no partition
    source_created: str
    target_physical: str
    target_created: str
    vector_name: str
    distance: str
    d_in: int
    d_out: int
    version: int
    kind: str
    checksum: str  # sha256 of the map's bytes
    chunks: int
    enabled: bool = False
    rank: int = 0  # > 0: the map is I + U V of this rank (proxy.bridge.fit.low_rank)
    trained_at: str = ""
    trained_by: str = ""
    enabled_at: str = ""
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The record's key: one bridge per collection and from-version."""
        return record_key(self.collection, self.source)

    def label(self) -> str:
        """``minilm@2->minilm@1 v3``."""
        return f"{self.source}->{self.target} v{self.version}"

    def to_json(self) -> str:
        """The stored text."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BridgeRecord:
        """Read a stored record back."""
        return cls(**json.loads(text))


def record_key(collection: str, source: str) -> str:
    """The key of the bridge of `collection` from `source`."""
    return f"{collection}\0{source}"


def map_bytes(linear: LinearMap) -> bytes:
    """Weights then bias, float32 little-endian."""
    return linear.weights.astype("<f4").tobytes() + linear.bias.astype("<f4").tobytes()


def checksum(linear: LinearMap) -> str:
    """sha256 of the map's bytes."""
    return hashlib.sha256(map_bytes(linear)).hexdigest()


class BridgeStore:
    """Bridge records and their maps in the backend; maps cached by version."""

    def __init__(self, backend: Backend) -> None:
        self.records = RecordStore(backend, RECORDS)
        self.maps = RecordStore(backend, MAPS)
        self._cache: dict[tuple[str, int, str], LinearMap] = {}

    async def all(self) -> list[BridgeRecord]:
        """Every stored bridge record."""
        return [BridgeRecord.from_json(text) for text in await self.records.all()]

    async def get(self, collection: str, source: str) -> BridgeRecord | None:
        """The bridge of `collection` from `source`, if any."""
        text = await self.records.get(record_key(collection, source))
        return None if text is None else BridgeRecord.from_json(text)

    async def put(self, record: BridgeRecord) -> None:
        """Store (replace) a record."""
        await self.records.put(record.key, record.to_json())

    @staticmethod
    def _chunk_key(record: BridgeRecord, version: int, number: int) -> str:
        return f"{record.key}\0v{version}\0{number}"

    async def put_map(self, record: BridgeRecord, linear: LinearMap) -> None:
        """Store the map of `record.version` (before the record that names it)."""
        text = base64.b64encode(map_bytes(linear)).decode()
        parts = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
        record.chunks = len(parts)
        for number, part in enumerate(parts):
            await self.maps.put(self._chunk_key(record, record.version, number), part)
        self._cache[(record.key, record.version, record.checksum)] = linear

    async def load_map(self, record: BridgeRecord) -> LinearMap:
        """The map a record names (read once per version, then cached)."""
        cache_key = (record.key, record.version, record.checksum)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        parts = []
        for number in range(record.chunks):
            part = await self.maps.get(self._chunk_key(record, record.version, number))
            if part is None:
                raise Internal(
                    f"bridge {record.label()} of `{record.collection}`: "
                    f"map chunk {number} is missing"
                )
            parts.append(part)
        raw = base64.b64decode("".join(parts))
        if hashlib.sha256(raw).hexdigest() != record.checksum:
            raise Internal(
                f"bridge {record.label()} of `{record.collection}`: map checksum mismatch"
            )
        values = np.frombuffer(raw, dtype="<f4")
        size = record.d_in * record.d_out
        linear = LinearMap(
            record.kind,
            values[:size].reshape(record.d_in, record.d_out).astype(np.float32),
            values[size:].astype(np.float32),
            record.rank,
        )
        self._cache = {k: v for k, v in self._cache.items() if k[0] != record.key}
        self._cache[cache_key] = linear
        return linear

    async def delete_map(self, record: BridgeRecord, version: int, chunks: int) -> None:
        """Remove the chunks of one map version."""
        for number in range(chunks):
            await self.maps.delete(self._chunk_key(record, version, number))

    async def delete(self, record: BridgeRecord) -> None:
        """Remove a bridge: its record first (no replica uses it after), then its map."""
        await self.records.delete(record.key)
        await self.delete_map(record, record.version, record.chunks)
        self._cache = {k: v for k, v in self._cache.items() if k[0] != record.key}


async def drop_bridges(
    store: BridgeStore, physical: set[str], *, targets_only: bool = False
) -> int:
    """Delete the bridges that join any of these partitions (retired or deleted ones);
    `targets_only`: only those answering from them (a deleted from-partition leaves its
    bridge usable). Returns how many were dropped."""
    dropped = 0
    for record in await store.all():
        joined = (
            {record.target_physical}
            if targets_only
            else {record.target_physical, record.source_physical}
        )
        if joined & physical:
            await store.delete(record)
            dropped += 1
    return dropped
