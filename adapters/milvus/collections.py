"""`qdrant.Collections` on Milvus: one Milvus collection per Qdrant collection, Milvus aliases.

Create builds the schema (`schema`), a FLAT index per vector field, loads the
collection and stores the Qdrant config and metadata as collection properties.
Aliases map one to one; a delete followed by a create of the same alias in one
request (a cut-over) becomes one Milvus AlterAlias, which switches atomically.
"""

from __future__ import annotations

import time
from typing import Any

from pymilvus import DataType, MilvusClient
from qdrant_client.grpc import collections_pb2 as cpb

from adapters.embedded.collections import (
    DEFAULT_HNSW,
    DEFAULT_ON_DISK_PAYLOAD,
    DEFAULT_OPTIMIZERS,
    DEFAULT_WAL,
    merge_metadata,
)
from adapters.milvus.connection import Connection, not_found
from adapters.milvus.dispatch import rpc
from adapters.milvus.errors import translate
from adapters.milvus.ids import PK, PK_MAX_LENGTH
from adapters.milvus.schema import (
    PAYLOAD,
    CollectionSpec,
    metadata_properties,
    properties_of,
    vectors_of,
)
from proxy.errors import AlreadyExists, InvalidArgument, Unimplemented
from proxy.values import python_to_payload

_BACKEND = "on the Milvus backend"
_UPDATABLE = {"collection_name", "metadata", "timeout"}


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _ok(start: float, result: bool = True) -> cpb.CollectionOperationResponse:
    return cpb.CollectionOperationResponse(result=result, time=_elapsed(start))


def _check_supported(request: cpb.CreateCollection) -> None:
    if request.HasField("quantization_config"):
        raise Unimplemented(f"CreateCollection `quantization_config` is not supported {_BACKEND}")
    if request.HasField("sharding_method"):
        raise Unimplemented(f"CreateCollection `sharding_method` is not supported {_BACKEND}")


@rpc("/qdrant.Collections/Create")
async def create(conn: Connection, request: cpb.CreateCollection) -> Any:
    """Create the Milvus collection of a Qdrant CreateCollection."""
    start = time.perf_counter()
    name = request.collection_name
    _check_supported(request)
    vectors = vectors_of(request)
    if not vectors:
        raise InvalidArgument(f"collection `{name}` declares no dense vectors")
    if await conn.exists(name):
        raise AlreadyExists(f"Wrong input: Collection `{name}` already exists!")
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(PK, DataType.VARCHAR, is_primary=True, max_length=PK_MAX_LENGTH)
    schema.add_field(PAYLOAD, DataType.JSON)
    for vector in vectors.values():
        schema.add_field(vector.field, DataType.FLOAT_VECTOR, dim=vector.size)
    client = conn.client
    await conn.call(
        "CreateCollection",
        client.create_collection,
        name,
        schema=schema,
        properties=properties_of(request),
        consistency_level=conn.consistency,
    )
    for vector in vectors.values():
        index = MilvusClient.prepare_index_params()
        index.add_index(vector.field, index_type="FLAT", metric_type=vector.metric)
        await _create_index(conn, name, index)
    await conn.call("LoadCollection", client.load_collection, name)
    conn.forget(name)
    return _ok(start)


async def _create_index(conn: Connection, name: str, index: Any) -> None:
    """CreateIndex; milvus-lite lacks the RPC pymilvus polls afterwards (AllocTimestamp),
    which is harmless: FLAT indexes are ready at once."""
    try:
        await conn.client.create_index(name, index, timeout=conn.timeout)
    except Exception as exc:
        code = getattr(exc, "code", None)
        if callable(code) and "UNIMPLEMENTED" in str(code()):
            return
        raise translate(exc, conn.where, "CreateIndex") from exc


@rpc("/qdrant.Collections/Get")
async def get(conn: Connection, request: cpb.GetCollectionInfoRequest) -> Any:
    """Collection info: config as created, metadata, points count."""
    start = time.perf_counter()
    spec = await conn.spec(request.collection_name)
    count = await points_count(conn, spec.name)
    response = cpb.GetCollectionInfoResponse(time=0.0)
    info = response.result
    info.status = cpb.Green
    info.optimizer_status.ok = True
    info.segments_count = 1
    info.points_count = count
    info.indexed_vectors_count = count
    _fill_config(spec, info.config)
    response.time = _elapsed(start)
    return response


async def points_count(conn: Connection, name: str) -> int:
    """Exact number of points (Strong consistency)."""
    rows = await conn.call(
        "Query",
        conn.client.query,
        name,
        filter="",
        output_fields=["count(*)"],
        consistency_level=conn.consistency,
    )
    return int(rows[0]["count(*)"])


def _fill_config(spec: CollectionSpec, out: cpb.CollectionConfig) -> None:
    request = spec.config
    params = out.params
    params.shard_number = 1
    params.replication_factor = 1
    params.write_consistency_factor = 1
    params.on_disk_payload = (
        request.on_disk_payload if request.HasField("on_disk_payload") else DEFAULT_ON_DISK_PAYLOAD
    )
    params.vectors_config.CopyFrom(request.vectors_config)
    out.hnsw_config.CopyFrom(DEFAULT_HNSW)
    out.hnsw_config.MergeFrom(request.hnsw_config)
    out.optimizer_config.CopyFrom(DEFAULT_OPTIMIZERS)
    out.optimizer_config.MergeFrom(request.optimizers_config)
    out.wal_config.CopyFrom(DEFAULT_WAL)
    out.wal_config.MergeFrom(request.wal_config)
    python_to_payload(spec.metadata, out.metadata)


@rpc("/qdrant.Collections/List")
async def list_collections(conn: Connection, request: cpb.ListCollectionsRequest) -> Any:
    """Every Milvus collection name."""
    start = time.perf_counter()
    names = await conn.call("ShowCollections", conn.client.list_collections)
    response = cpb.ListCollectionsResponse()
    for name in sorted(names):
        response.collections.add(name=name)
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Collections/CollectionExists")
async def exists(conn: Connection, request: cpb.CollectionExistsRequest) -> Any:
    """Whether the collection exists."""
    start = time.perf_counter()
    found = await conn.exists(request.collection_name)
    return cpb.CollectionExistsResponse(
        result=cpb.CollectionExists(exists=found), time=_elapsed(start)
    )


@rpc("/qdrant.Collections/Delete")
async def delete(conn: Connection, request: cpb.DeleteCollection) -> Any:
    """Drop the collection and its aliases (Milvus refuses to drop an aliased one)."""
    start = time.perf_counter()
    name = request.collection_name
    conn.forget(name)
    if not await conn.exists(name):
        return _ok(start, result=False)
    for alias in await aliases_of(conn, name):
        await conn.call("DropAlias", conn.client.drop_alias, alias)
    await conn.call("DropCollection", conn.client.drop_collection, name)
    return _ok(start)


@rpc("/qdrant.Collections/Update")
async def update(conn: Connection, request: cpb.UpdateCollection) -> Any:
    """Merge collection metadata; other parameters have no Milvus counterpart."""
    start = time.perf_counter()
    for descriptor, _ in request.ListFields():
        if descriptor.name not in _UPDATABLE:
            raise Unimplemented(
                f"UpdateCollection `{descriptor.name}` is not supported {_BACKEND}; only "
                "metadata can be updated"
            )
    spec = await conn.spec(request.collection_name)
    metadata = merge_metadata(spec.metadata, request.metadata)
    await conn.call(
        "AlterCollectionProperties",
        conn.client.alter_collection_properties,
        spec.name,
        properties=metadata_properties(metadata),
    )
    conn.remember(CollectionSpec(spec.name, spec.vectors, spec.config, metadata))
    return _ok(start)


async def aliases_of(conn: Connection, name: str) -> list[str]:
    """The aliases of one collection."""
    reply = await conn.call("ListAliases", conn.client.list_aliases, name)
    aliases = reply.get("aliases", []) if isinstance(reply, dict) else reply
    return [str(alias) for alias in aliases]


async def _target_of(conn: Connection, alias: str) -> str:
    reply = await conn.call("DescribeAlias", conn.client.describe_alias, alias)
    return str(reply["collection_name"])


@rpc("/qdrant.Collections/UpdateAliases")
async def update_aliases(conn: Connection, request: cpb.ChangeAliases) -> Any:
    """Apply alias actions in order; delete+create of one alias is one atomic AlterAlias."""
    start = time.perf_counter()
    client = conn.client
    actions = list(request.actions)
    i = 0
    while i < len(actions):
        action = actions[i]
        kind = action.WhichOneof("action")
        following = actions[i + 1] if i + 1 < len(actions) else None
        if (
            kind == "delete_alias"
            and following is not None
            and following.WhichOneof("action") == "create_alias"
            and following.create_alias.alias_name == action.delete_alias.alias_name
        ):
            create = following.create_alias
            if not await conn.exists(create.collection_name):
                raise not_found(create.collection_name)
            await conn.call(
                "AlterAlias", client.alter_alias, create.collection_name, create.alias_name
            )
            i += 2
            continue
        if kind == "create_alias":
            create = action.create_alias
            if not await conn.exists(create.collection_name):
                raise not_found(create.collection_name)
            await conn.call(
                "CreateAlias", client.create_alias, create.collection_name, create.alias_name
            )
        elif kind == "delete_alias":
            await conn.call("DropAlias", client.drop_alias, action.delete_alias.alias_name)
        elif kind == "rename_alias":
            rename = action.rename_alias
            target = await _target_of(conn, rename.old_alias_name)
            await conn.call("CreateAlias", client.create_alias, target, rename.new_alias_name)
            await conn.call("DropAlias", client.drop_alias, rename.old_alias_name)
        i += 1
    return _ok(start)


@rpc("/qdrant.Collections/ListAliases")
async def list_aliases(conn: Connection, request: cpb.ListAliasesRequest) -> Any:
    """Every alias of every collection."""
    start = time.perf_counter()
    response = cpb.ListAliasesResponse()
    names = await conn.call("ShowCollections", conn.client.list_collections)
    for name in sorted(names):
        for alias in sorted(await aliases_of(conn, name)):
            response.aliases.add(alias_name=alias, collection_name=name)
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Collections/ListCollectionAliases")
async def list_collection_aliases(
    conn: Connection, request: cpb.ListCollectionAliasesRequest
) -> Any:
    """The aliases of one collection."""
    start = time.perf_counter()
    name = request.collection_name
    if not await conn.exists(name):
        raise not_found(name)
    response = cpb.ListAliasesResponse()
    for alias in sorted(await aliases_of(conn, name)):
        response.aliases.add(alias_name=alias, collection_name=name)
    response.time = _elapsed(start)
    return response
