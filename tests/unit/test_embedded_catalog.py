"""The embedded backend's collections: create/get/list/delete, aliases, config echo, persistence."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded import EmbeddedBackend, engine_error
from adapters.embedded.catalog import (
    ALIASES_FILE,
    COLLECTIONS_DIR,
    directory_name,
    write_json_atomic,
)
from proxy.errors import (
    AlreadyExists,
    Internal,
    InvalidArgument,
    NotFound,
    Unimplemented,
    VecgateError,
)

ROOT = Path(__file__).resolve().parents[2]


def call(backend: EmbeddedBackend, method: str, request: Any) -> Any:
    """One RPC through the backend's public entry point."""
    return asyncio.run(backend.handle(method, request))


def create(backend: EmbeddedBackend, name: str, size: int = 4, **fields: Any) -> None:
    request = cpb.CreateCollection(
        collection_name=name,
        vectors_config=cpb.VectorsConfig(params=cpb.VectorParams(size=size, distance=cpb.Dot)),
        **fields,
    )
    call(backend, "/qdrant.Collections/Create", request)


def info(backend: EmbeddedBackend, name: str) -> Any:
    request = cpb.GetCollectionInfoRequest(collection_name=name)
    return call(backend, "/qdrant.Collections/Get", request).result


def names(backend: EmbeddedBackend) -> list[str]:
    listing = call(backend, "/qdrant.Collections/List", cpb.ListCollectionsRequest())
    return [c.name for c in listing.collections]


def aliases(backend: EmbeddedBackend) -> list[tuple[str, str]]:
    listing = call(backend, "/qdrant.Collections/ListAliases", cpb.ListAliasesRequest())
    return [(a.alias_name, a.collection_name) for a in listing.aliases]


def change_aliases(backend: EmbeddedBackend, *actions: cpb.AliasOperations) -> Any:
    return call(backend, "/qdrant.Collections/UpdateAliases", cpb.ChangeAliases(actions=actions))


def create_alias(alias: str, collection: str) -> cpb.AliasOperations:
    return cpb.AliasOperations(
        create_alias=cpb.CreateAlias(collection_name=collection, alias_name=alias)
    )


def rename_alias(old: str, new: str) -> cpb.AliasOperations:
    return cpb.AliasOperations(rename_alias=cpb.RenameAlias(old_alias_name=old, new_alias_name=new))


def delete_alias(alias: str) -> cpb.AliasOperations:
    return cpb.AliasOperations(delete_alias=cpb.DeleteAlias(alias_name=alias))


def upsert(backend: EmbeddedBackend, name: str, ids: range, size: int = 4) -> None:
    request = ppb.UpsertPoints(collection_name=name)
    for i in ids:
        point = request.points.add()
        point.id.num = i
        point.vectors.vector.dense.data.extend([float(i + 1)] * size)
        point.payload["i"].integer_value = i
    call(backend, "/qdrant.Points/Upsert", request)


@pytest.fixture
def backend(tmp_path: Path) -> Any:
    opened = EmbeddedBackend(tmp_path)
    yield opened
    asyncio.run(opened.close())


def reopen(backend: EmbeddedBackend) -> EmbeddedBackend:
    asyncio.run(backend.close())
    return EmbeddedBackend(backend.catalog.data_dir)


# ------------------------------------------------------------------ create, get, list


def test_create_get_list_exists(backend):
    """A created collection is listed (sorted), exists, and reports its points."""
    create(backend, "b")
    create(backend, "a")
    upsert(backend, "a", range(3))
    assert names(backend) == ["a", "b"]
    exists = call(
        backend,
        "/qdrant.Collections/CollectionExists",
        cpb.CollectionExistsRequest(collection_name="a"),
    )
    assert exists.result.exists
    missing = call(
        backend,
        "/qdrant.Collections/CollectionExists",
        cpb.CollectionExistsRequest(collection_name="z"),
    )
    assert not missing.result.exists
    got = info(backend, "a")
    assert (got.status, got.points_count, got.segments_count) == (cpb.Green, 3, 1)
    assert got.optimizer_status.ok


def test_create_twice_and_unknown_names_answer_like_qdrant(backend):
    """A second create is AlreadyExists and an unknown name NotFound, in Qdrant's words."""
    create(backend, "docs")
    with pytest.raises(AlreadyExists, match=r"^Wrong input: Collection `docs` already exists!$"):
        create(backend, "docs")
    with pytest.raises(NotFound, match=r"^Not found: Collection `nope` doesn't exist!$"):
        info(backend, "nope")
    with pytest.raises(NotFound, match="Collection `nope` doesn't exist"):
        upsert(backend, "nope", range(1))


@pytest.mark.parametrize("bad", ["", "a/b", "a\\b", "nul\0", "x:y", "q?", "..", "n" * 256])
def test_unsafe_collection_names_are_refused(backend, bad):
    """Names Qdrant refuses (empty, too long, path separators, NUL, ...) are InvalidArgument."""
    with pytest.raises(InvalidArgument, match="collection_name"):
        create(backend, bad)
    assert names(backend) == []
    assert list((backend.catalog.data_dir / COLLECTIONS_DIR).iterdir()) == []


def test_any_accepted_name_maps_to_one_safe_directory(backend):
    """Unicode, spaces and dots stay inside the data directory, one directory per name."""
    odd = "Ünïcode name. with spaces & dots.."
    create(backend, odd)
    create(backend, odd.lower())
    directories = sorted(p.name for p in (backend.catalog.data_dir / COLLECTIONS_DIR).iterdir())
    assert directories == sorted([directory_name(odd), directory_name(odd.lower())])
    assert all(d.isascii() and "/" not in d and not d.startswith(".") for d in directories)
    backend = reopen(backend)
    assert names(backend) == sorted([odd, odd.lower()])


def test_config_echo_fills_qdrant_defaults(backend):
    """Get echoes the creation config and fills Qdrant's HNSW/optimizer/WAL defaults."""
    request = cpb.CreateCollection(
        collection_name="docs",
        vectors_config=cpb.VectorsConfig(
            params_map=cpb.VectorParamsMap(
                map={
                    "text": cpb.VectorParams(size=8, distance=cpb.Cosine, on_disk=True),
                    "colbert": cpb.VectorParams(
                        size=4,
                        distance=cpb.Dot,
                        multivector_config=cpb.MultiVectorConfig(comparator=cpb.MaxSim),
                        datatype=cpb.Float16,
                    ),
                }
            )
        ),
        sparse_vectors_config=cpb.SparseVectorConfig(
            map={"bm25": cpb.SparseVectorParams(modifier=cpb.Modifier.Value("Idf"))}
        ),
        hnsw_config=cpb.HnswConfigDiff(m=32),
        optimizers_config=cpb.OptimizersConfigDiff(indexing_threshold=0),
        quantization_config=cpb.QuantizationConfig(
            scalar=cpb.ScalarQuantization(type=cpb.Int8, quantile=0.99)
        ),
        on_disk_payload=False,
    )
    request.metadata["team"].string_value = "search"
    call(backend, "/qdrant.Collections/Create", request)
    config = info(backend, "docs").config
    assert config.params.vectors_config == request.vectors_config
    assert config.params.sparse_vectors_config == request.sparse_vectors_config
    assert (config.params.shard_number, config.params.replication_factor) == (1, 1)
    assert config.params.write_consistency_factor == 1
    assert config.params.on_disk_payload is False
    assert (config.hnsw_config.m, config.hnsw_config.ef_construct) == (32, 100)
    assert config.hnsw_config.full_scan_threshold == 10000
    assert config.optimizer_config.indexing_threshold == 0
    assert config.optimizer_config.deleted_threshold == pytest.approx(0.2)
    assert config.wal_config.wal_capacity_mb == 32
    assert config.quantization_config == request.quantization_config
    assert config.metadata["team"].string_value == "search"


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"sharding_method": cpb.Custom}, Unimplemented, "custom sharding"),
        (
            {"strict_mode_config": cpb.StrictModeConfig(enabled=True)},
            Unimplemented,
            "strict mode",
        ),
        ({"shard_number": 0}, InvalidArgument, "shard_number"),
    ],
)
def test_unsupported_or_invalid_create_options(backend, fields, error, match):
    """What the engine cannot honour is Unimplemented by name; invalid values InvalidArgument."""
    with pytest.raises(error, match=match):
        create(backend, "docs", **fields)
    assert names(backend) == []


def test_create_refuses_bad_vectors(backend):
    """Zero size, Turbo4 and a collection without vectors are refused, nothing created."""
    for params, error, match in [
        (cpb.VectorParams(size=0, distance=cpb.Dot), InvalidArgument, "must be from 1 to 65536"),
        (cpb.VectorParams(size=4), InvalidArgument, "Malformed distance"),
        (cpb.VectorParams(size=4, distance=cpb.Dot, datatype=cpb.Turbo4), Unimplemented, "Turbo4"),
    ]:
        request = cpb.CreateCollection(
            collection_name="docs", vectors_config=cpb.VectorsConfig(params=params)
        )
        with pytest.raises(error, match=match):
            call(backend, "/qdrant.Collections/Create", request)
    with pytest.raises(Unimplemented, match="without vectors"):
        call(backend, "/qdrant.Collections/Create", cpb.CreateCollection(collection_name="docs"))
    assert names(backend) == []


# ------------------------------------------------------------------ persistence


def test_everything_survives_close_and_reopen(backend):
    """Collections, points, config, metadata, payload indexes and aliases survive a restart."""
    create(backend, "docs", hnsw_config=cpb.HnswConfigDiff(m=8))
    upsert(backend, "docs", range(5))
    index = ppb.CreateFieldIndexCollection(
        collection_name="docs", field_name="i", field_type=ppb.FieldTypeInteger
    )
    call(backend, "/qdrant.Points/CreateFieldIndex", index)
    update = cpb.UpdateCollection(collection_name="docs")
    update.metadata["owner"].string_value = "ops"
    call(backend, "/qdrant.Collections/Update", update)
    change_aliases(backend, create_alias("current", "docs"))
    before = info(backend, "docs")

    backend = reopen(backend)
    after = info(backend, "current")
    assert after.points_count == 5
    assert after.config == before.config
    assert after.created_at == before.created_at
    assert after.payload_schema["i"].data_type == cpb.Integer
    assert aliases(backend) == [("current", "docs")]


def test_acknowledged_writes_survive_kill_9(tmp_path):
    """Points, payload and collections acknowledged before a SIGKILL are there after restart."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from tests.unit.test_embedded_catalog import create, upsert, call
        from adapters.embedded import EmbeddedBackend
        from qdrant_client.grpc import points_pb2 as ppb
        backend = EmbeddedBackend(Path({str(tmp_path)!r}))
        create(backend, "docs")
        upsert(backend, "docs", range(100))
        request = ppb.DeletePoints(collection_name="docs")
        request.points.points.ids.add().num = 7
        call(backend, "/qdrant.Points/Delete", request)
        print("acked", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "acked"
    backend = EmbeddedBackend(tmp_path)
    assert info(backend, "docs").points_count == 99
    asyncio.run(backend.close())


def test_unfinished_create_and_trash_are_cleaned_at_start(tmp_path):
    """A directory without collection.json (a create cut short) and trash are removed."""
    root = tmp_path / COLLECTIONS_DIR
    (root / directory_name("half")).mkdir(parents=True)
    (root / ".trash-0123").mkdir()
    backend = EmbeddedBackend(tmp_path)
    assert names(backend) == []
    assert list(root.iterdir()) == []
    create(backend, "half")  # the name is usable again
    assert names(backend) == ["half"]
    asyncio.run(backend.close())


def test_atomic_json_write_keeps_the_old_file_on_failure(tmp_path):
    """A write that fails half-way leaves the previous file intact and no temp file."""
    path = tmp_path / "state.json"
    write_json_atomic(path, {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_collection_that_fails_to_load_is_reported_not_fatal(backend):
    """A broken shard does not stop the others: it is listed, Get is Internal, Delete works."""
    create(backend, "good")
    create(backend, "bad")
    data_dir = backend.catalog.data_dir
    asyncio.run(backend.close())
    shard_config = data_dir / COLLECTIONS_DIR / directory_name("bad") / "shard" / "edge_config.json"
    shard_config.write_text("{ not json")
    backend = EmbeddedBackend(data_dir)
    assert names(backend) == ["bad", "good"]
    assert "bad" in backend.describe()["failed"]
    with pytest.raises(Internal, match="could not be loaded"):
        info(backend, "bad")
    assert info(backend, "good").points_count == 0
    deleted = call(
        backend, "/qdrant.Collections/Delete", cpb.DeleteCollection(collection_name="bad")
    )
    assert deleted.result
    assert names(backend) == ["good"]
    asyncio.run(backend.close())


# ------------------------------------------------------------------ delete


def test_delete_drops_data_and_aliases(backend):
    """Delete removes the directory and the collection's aliases; a second delete is false."""
    create(backend, "docs")
    create(backend, "other")
    change_aliases(backend, create_alias("a1", "docs"), create_alias("a2", "other"))
    request = cpb.DeleteCollection(collection_name="docs")
    assert call(backend, "/qdrant.Collections/Delete", request).result
    assert not call(backend, "/qdrant.Collections/Delete", request).result
    assert names(backend) == ["other"]
    assert aliases(backend) == [("a2", "other")]
    assert not (backend.catalog.data_dir / COLLECTIONS_DIR / directory_name("docs")).exists()
    backend = reopen(backend)
    assert names(backend) == ["other"]
    assert aliases(backend) == [("a2", "other")]


def test_delete_by_alias_name_deletes_nothing(backend):
    """Delete takes a collection name, as Qdrant: an alias name answers false."""
    create(backend, "docs")
    change_aliases(backend, create_alias("live", "docs"))
    request = cpb.DeleteCollection(collection_name="live")
    assert not call(backend, "/qdrant.Collections/Delete", request).result
    assert names(backend) == ["docs"]


# ------------------------------------------------------------------ aliases


def test_aliases_resolve_rename_and_list(backend):
    """An alias reads its collection; rename moves it; listing per collection and overall."""
    create(backend, "v1")
    create(backend, "v2")
    upsert(backend, "v2", range(2))
    change_aliases(backend, create_alias("live", "v1"), create_alias("old", "v1"))
    change_aliases(backend, delete_alias("live"), create_alias("live", "v2"))
    assert info(backend, "live").points_count == 2
    change_aliases(backend, rename_alias("old", "previous"))
    assert aliases(backend) == [("live", "v2"), ("previous", "v1")]
    request = cpb.ListCollectionAliasesRequest(collection_name="v1")
    listed = call(backend, "/qdrant.Collections/ListCollectionAliases", request)
    assert [(a.alias_name, a.collection_name) for a in listed.aliases] == [("previous", "v1")]
    exists = call(
        backend,
        "/qdrant.Collections/CollectionExists",
        cpb.CollectionExistsRequest(collection_name="live"),
    )
    assert exists.result.exists


def test_alias_batch_is_all_or_nothing(backend):
    """A failing action anywhere in UpdateAliases leaves every alias as it was, also on disk."""
    create(backend, "docs")
    change_aliases(backend, create_alias("keep", "docs"))
    with pytest.raises(NotFound, match="Alias missing does not exists"):
        change_aliases(
            backend,
            create_alias("new", "docs"),
            delete_alias("keep"),
            rename_alias("missing", "x"),
        )
    assert aliases(backend) == [("keep", "docs")]
    with pytest.raises(NotFound, match="Collection `ghost` doesn't exist"):
        change_aliases(backend, create_alias("new", "docs"), create_alias("x", "ghost"))
    assert aliases(backend) == [("keep", "docs")]
    stored = json.loads((backend.catalog.data_dir / ALIASES_FILE).read_text())
    assert stored["aliases"] == {"keep": "docs"}


def test_aliases_and_collections_share_one_namespace(backend):
    """An alias cannot take a collection's name, nor a collection an alias's."""
    create(backend, "docs")
    create(backend, "other")
    with pytest.raises(AlreadyExists, match="Collection `other` already exists"):
        change_aliases(backend, create_alias("other", "docs"))
    change_aliases(backend, create_alias("live", "docs"))
    with pytest.raises(AlreadyExists):
        change_aliases(backend, rename_alias("live", "other"))
    with pytest.raises(InvalidArgument, match="Alias with the same name already exists"):
        create(backend, "live")
    with pytest.raises(NotFound):  # an alias targets a collection, not another alias
        change_aliases(backend, create_alias("chain", "live"))


# ------------------------------------------------------------------ update


def test_update_merges_metadata_like_qdrant(backend):
    """Metadata keys are replaced, a null removes one, others stay; persisted."""
    request = cpb.CreateCollection(
        collection_name="docs",
        vectors_config=cpb.VectorsConfig(params=cpb.VectorParams(size=2, distance=cpb.Dot)),
    )
    request.metadata["a"].integer_value = 1
    request.metadata["b"].string_value = "x"
    call(backend, "/qdrant.Collections/Create", request)
    update = cpb.UpdateCollection(collection_name="docs")
    update.metadata["b"].null_value = 0
    update.metadata["c"].struct_value.fields["d"].bool_value = True
    assert call(backend, "/qdrant.Collections/Update", update).result
    backend = reopen(backend)
    metadata = info(backend, "docs").config.metadata
    assert sorted(metadata) == ["a", "c"]
    assert metadata["c"].struct_value.fields["d"].bool_value is True


def test_update_applies_index_settings_and_refuses_the_rest(backend):
    """HNSW/optimizer diffs are applied and echoed; read fan-out and strict mode are refused."""
    create(backend, "docs")
    upsert(backend, "docs", range(3))
    update = cpb.UpdateCollection(
        collection_name="docs",
        hnsw_config=cpb.HnswConfigDiff(ef_construct=64),
        optimizers_config=cpb.OptimizersConfigDiff(indexing_threshold=0),
        params=cpb.CollectionParamsDiff(replication_factor=2),
    )
    call(backend, "/qdrant.Collections/Update", update)
    got = info(backend, "docs")
    assert got.points_count == 3
    assert (got.config.hnsw_config.m, got.config.hnsw_config.ef_construct) == (16, 64)
    assert got.config.optimizer_config.indexing_threshold == 0
    assert got.config.params.replication_factor == 2
    for bad, error in [
        (
            cpb.UpdateCollection(params=cpb.CollectionParamsDiff(read_fan_out_factor=2)),
            Unimplemented,
        ),
        (
            cpb.UpdateCollection(strict_mode_config=cpb.StrictModeConfig(enabled=True)),
            Unimplemented,
        ),
        (
            cpb.UpdateCollection(
                vectors_config=cpb.VectorsConfigDiff(
                    params_map=cpb.VectorParamsDiffMap(map={"nope": cpb.VectorParamsDiff()})
                )
            ),
            InvalidArgument,
        ),
    ]:
        bad.collection_name = "docs"
        with pytest.raises(error):
            call(backend, "/qdrant.Collections/Update", bad)
    assert info(backend, "docs").config == got.config


# ------------------------------------------------------------------ boundary


@pytest.mark.parametrize(
    ("text", "error", "prefix"),
    [
        ("Vector dimension error: expected dim: 4, got 3", InvalidArgument, "Wrong input: "),
        ("No point with id 9", NotFound, "Not found: No point with id 9 found"),
        ("Wrong usage of sparse vectors", InvalidArgument, "Wrong input: Conversion"),
        ("disk on fire", Internal, "Service internal error: "),
    ],
)
def test_engine_errors_map_to_the_error_tree(text, error, prefix):
    """Engine exception texts become the status a Qdrant server answers, never raw."""
    translated = engine_error(Exception(text))
    assert type(translated) is error
    assert translated.message.startswith(prefix)
    assert isinstance(engine_error(ValueError("invalid JSON path a[")), InvalidArgument)


def test_unknown_methods_and_closed_backend(backend):
    """An unregistered RPC is Unimplemented; a closed backend refuses politely."""
    assert backend.supports("/qdrant.Collections/Create")
    assert not backend.supports("/qdrant.Collections/CreateShardKey")
    with pytest.raises(Unimplemented, match="CreateShardKey"):
        call(backend, "/qdrant.Collections/CreateShardKey", cpb.CreateShardKeyRequest())
    asyncio.run(backend.close())
    with pytest.raises(VecgateError, match="closed"):
        info(backend, "docs")
    assert not asyncio.run(backend.ready())
    assert os.listdir(backend.catalog.data_dir)  # nothing was removed by closing
