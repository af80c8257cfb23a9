"""How one Qdrant collection is laid out as one Milvus collection.

- ``pk``: VARCHAR primary key (`ids`), ``payload``: a JSON field holding the whole
  Qdrant payload, one FLOAT_VECTOR field per dense vector name (``vector`` for the
  unnamed one, ``v_<name>`` for named ones), each with a FLAT index (exact search,
  as vecgate's embedded engine: decision 11).
- Distances: Cosine → COSINE (vectors are normalised on the way in, as Qdrant stores
  them), Dot → IP, Euclid → L2 (Milvus reports the squared distance; the adapter
  answers its square root, as Qdrant). Manhattan has no Milvus metric for float
  vectors and is refused.
- Collection properties hold what Milvus cannot: ``vecgate.config`` (the Qdrant
  CreateCollection request, base64 protobuf, without metadata), ``vecgate.metadata``
  (the Qdrant collection metadata as JSON) and ``vecgate`` (the routing-state JSON
  string on its own, for operators reading Milvus directly).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from qdrant_client.grpc import collections_pb2 as cpb

from proxy.errors import InvalidArgument, Unimplemented
from proxy.values import payload_to_python

PAYLOAD = "payload"
UNNAMED_FIELD = "vector"
CONFIG_PROPERTY = "vecgate.config"
METADATA_PROPERTY = "vecgate.metadata"
ROUTING_PROPERTY = "vecgate"
_NAME = re.compile(r"^[A-Za-z0-9_]{1,200}$")
_METRICS: dict[int, str] = {cpb.Cosine: "COSINE", cpb.Dot: "IP", cpb.Euclid: "L2"}


@dataclass(frozen=True, slots=True)
class VectorField:
    """One Qdrant dense vector name and the Milvus field that holds it."""

    name: str  # Qdrant's name ("" for the unnamed vector)
    field: str  # Milvus field
    size: int
    distance: int  # Qdrant's Distance enum value

    @property
    def metric(self) -> str:
        """The Milvus metric type."""
        return _METRICS[self.distance]

    @property
    def label(self) -> str:
        """The name as Qdrant's messages say it."""
        return self.name or "(default)"


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """What the adapter needs to know about a collection to translate requests."""

    name: str
    vectors: dict[str, VectorField]
    config: cpb.CreateCollection
    metadata: dict[str, Any]

    def vector(self, name: str) -> VectorField:
        """The vector field of a Qdrant vector name (INVALID_ARGUMENT if unknown)."""
        field = self.vectors.get(name)
        if field is None:
            raise InvalidArgument(
                f"Wrong input: Not existing vector name error: {name or '(default)'}"
            )
        return field

    @property
    def vector_fields(self) -> list[str]:
        """Every Milvus vector field."""
        return [v.field for v in self.vectors.values()]


def field_of(name: str) -> str:
    """The Milvus field of a Qdrant vector name."""
    return UNNAMED_FIELD if name == "" else f"v_{name}"


def vectors_of(config: cpb.CreateCollection) -> dict[str, VectorField]:
    """The dense vectors a CreateCollection declares; what Milvus cannot hold is refused."""
    if config.sparse_vectors_config.map:
        raise Unimplemented(
            "sparse vectors (sparse_vectors_config) are not supported on the Milvus backend"
        )
    vectors_config = config.vectors_config
    which = vectors_config.WhichOneof("config") if config.HasField("vectors_config") else None
    params = (
        {"": vectors_config.params} if which == "params" else dict(vectors_config.params_map.map)
    )
    out: dict[str, VectorField] = {}
    for name, item in params.items():
        where = f"vector {name or '(default)'}"
        if name and not _NAME.match(name):
            raise InvalidArgument(
                f"{where}: on the Milvus backend vector names may use only letters, digits "
                "and underscores (they become Milvus field names)"
            )
        if item.HasField("multivector_config"):
            raise Unimplemented(f"{where}: multivectors are not supported on the Milvus backend")
        if item.distance not in _METRICS:
            raise InvalidArgument(
                f"{where}: distance {cpb.Distance.Name(item.distance)} has no Milvus metric for "
                "float vectors; use Cosine, Dot or Euclid"
            )
        if item.size < 1:
            raise InvalidArgument(f"{where}: size must be at least 1")
        out[name] = VectorField(name, field_of(name), item.size, item.distance)
    return out


def properties_of(config: cpb.CreateCollection) -> dict[str, str]:
    """The Milvus collection properties that store a Qdrant collection's config."""
    stored = cpb.CreateCollection()
    stored.CopyFrom(config)
    stored.ClearField("metadata")
    metadata = payload_to_python(config.metadata)
    properties = {
        CONFIG_PROPERTY: base64.b64encode(stored.SerializeToString()).decode(),
        METADATA_PROPERTY: json.dumps(metadata, sort_keys=True),
    }
    routing = metadata.get(ROUTING_PROPERTY)
    if isinstance(routing, str):
        properties[ROUTING_PROPERTY] = routing
    return properties


def metadata_properties(metadata: dict[str, Any]) -> dict[str, str]:
    """The properties to write after the Qdrant metadata changed."""
    properties = {METADATA_PROPERTY: json.dumps(metadata, sort_keys=True)}
    routing = metadata.get(ROUTING_PROPERTY)
    if isinstance(routing, str):
        properties[ROUTING_PROPERTY] = routing
    return properties


def spec_from_properties(name: str, properties: dict[str, Any]) -> CollectionSpec | None:
    """The spec of a collection vecgate created; None for a collection made by others."""
    encoded = properties.get(CONFIG_PROPERTY)
    if not encoded:
        return None
    config = cpb.CreateCollection.FromString(base64.b64decode(encoded))
    metadata = json.loads(properties.get(METADATA_PROPERTY) or "{}")
    return CollectionSpec(name, vectors_of(config), config, metadata)
