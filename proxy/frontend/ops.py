"""Every RPC of the Qdrant services and what kind of operation it is for the policy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message_factory import GetMessageClass
from qdrant_client.grpc import (
    collections_service_pb2,
    points_service_pb2,
    qdrant_pb2,
    snapshots_service_pb2,
)


class Kind(Enum):
    """How the policy treats an RPC."""

    HEALTH = "health"  # answered by the gateway itself
    CATALOG = "catalog"  # collections and aliases: logical names, partitions created/dropped
    WRITE = "write"  # changes points of one partition
    READ = "read"  # reads points without query vectors
    SEARCH = "search"  # compares vectors: query vectors or stored ones by id
    UNSUPPORTED = "unsupported"  # answers UNIMPLEMENTED with a sentence


@dataclass(frozen=True, slots=True)
class Op:
    """One RPC: its full path, short name, kind and message classes."""

    method: str
    service: str
    name: str
    kind: Kind
    request_type: Any
    response_type: Any

    @property
    def label(self) -> str:
        """``Points/Search``: the RPC as operators read it."""
        return f"{self.service.removeprefix('qdrant.')}/{self.name}"


_KINDS: dict[str, Kind] = {
    "qdrant.Qdrant/HealthCheck": Kind.HEALTH,
    **{
        f"qdrant.Collections/{name}": Kind.CATALOG
        for name in (
            "Get",
            "List",
            "Create",
            "Update",
            "Delete",
            "UpdateAliases",
            "ListCollectionAliases",
            "ListAliases",
            "CollectionExists",
        )
    },
    **{
        f"qdrant.Points/{name}": Kind.WRITE
        for name in (
            "Upsert",
            "Delete",
            "UpdateVectors",
            "DeleteVectors",
            "SetPayload",
            "OverwritePayload",
            "DeletePayload",
            "ClearPayload",
            "CreateFieldIndex",
            "DeleteFieldIndex",
            "UpdateBatch",
        )
    },
    **{f"qdrant.Points/{name}": Kind.READ for name in ("Get", "Scroll", "Count", "Facet")},
    **{
        f"qdrant.Points/{name}": Kind.SEARCH
        for name in (
            "Search",
            "SearchBatch",
            "SearchGroups",
            "Recommend",
            "RecommendBatch",
            "RecommendGroups",
            "Discover",
            "DiscoverBatch",
            "Query",
            "QueryBatch",
            "QueryGroups",
            "SearchMatrixPairs",
            "SearchMatrixOffsets",
        )
    },
}

#: Why each unsupported RPC is refused, in a sentence a user can act on.
UNSUPPORTED_REASONS: dict[str, str] = {
    "qdrant.Collections/CollectionClusterInfo": (
        "vecgate does not expose cluster topology; ask the backend cluster directly"
    ),
    "qdrant.Collections/UpdateCollectionClusterSetup": (
        "vecgate does not move shards; manage the backend cluster directly"
    ),
    "qdrant.Collections/CreateShardKey": "user-defined shard keys are not supported by vecgate",
    "qdrant.Collections/DeleteShardKey": "user-defined shard keys are not supported by vecgate",
    "qdrant.Collections/ListShardKeys": "user-defined shard keys are not supported by vecgate",
    "qdrant.Points/CreateVectorName": (
        "a partition's vectors are fixed by its model binding; create the collection under "
        "a new version with the extra vector instead"
    ),
    "qdrant.Points/DeleteVectorName": (
        "a partition's vectors are fixed by its model binding; create the collection under "
        "a new version without that vector instead"
    ),
}
_SNAPSHOT_REASON = (
    "snapshots are not proxied by vecgate; take them on the backend (the embedded engine's "
    "data directory can be copied while vecgate is stopped)"
)

SERVICE_MODULES = (qdrant_pb2, collections_service_pb2, points_service_pb2, snapshots_service_pb2)


def _services() -> list[ServiceDescriptor]:
    return [s for module in SERVICE_MODULES for s in module.DESCRIPTOR.services_by_name.values()]


def _build_ops() -> dict[str, Op]:
    ops: dict[str, Op] = {}
    for service in _services():
        for method in service.methods:
            short = f"{service.full_name}/{method.name}"
            kind = _KINDS.get(short, Kind.UNSUPPORTED)
            request_type = GetMessageClass(method.input_type)
            response_type = GetMessageClass(method.output_type)
            path = f"/{short}"
            ops[path] = Op(path, service.full_name, method.name, kind, request_type, response_type)
    return ops


OPS: dict[str, Op] = _build_ops()

#: Batch RPCs and the repeated field holding their sub-requests.
BATCH_ITEMS: dict[str, str] = {
    "SearchBatch": "search_points",
    "RecommendBatch": "recommend_points",
    "DiscoverBatch": "discover_points",
    "QueryBatch": "query_points",
}
SERVICES: tuple[str, ...] = tuple(s.full_name for s in _services())


def unsupported_reason(op: Op) -> str:
    """The sentence an UNIMPLEMENTED answer to `op` carries."""
    short = op.method.lstrip("/")
    if op.service == "qdrant.Snapshots":
        return f"{op.label} is not supported: {_SNAPSHOT_REASON}"
    return f"{op.label} is not supported: {UNSUPPORTED_REASONS[short]}"
