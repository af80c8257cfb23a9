"""`qdrant.Collections` RPCs on the embedded engine: create, info, list, update, delete, aliases.

A Qdrant collection is one `EdgeShard` (see `catalog`). The creation request is kept and
echoed by `Get`, with Qdrant's defaults filled in for what it leaves unset (HNSW, WAL,
optimizers), so `GetCollectionInfo` reads like a single-node Qdrant's answer.

What the engine cannot do answers `Unimplemented` naming it: custom sharding (shard
keys), strict mode enforcement, collections without vectors, the `Turbo4` datatype,
read fan-out. Index settings (HNSW, optimizers, quantization, memory placement) are
applied by reopening the shard with the new engine config.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import qdrant_edge as qe
from google.protobuf.timestamp_pb2 import Timestamp
from qdrant_client.grpc import collections_pb2 as cpb

from adapters.embedded.catalog import validate_collection_name
from adapters.embedded.dispatch import rpc
from proxy.errors import InvalidArgument, Unimplemented
from proxy.values import payload_to_python, python_to_payload

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.embedded.catalog import Catalog, Collection

MAX_VECTOR_SIZE = 65536
MAX_VECTOR_NAME_BYTES = 200
_INVALID_VECTOR_NAME_CHARS = ("<", ">", ":", '"', "/", "\\", "|", "?", "*", "\0", "\x1f")

# Qdrant's defaults (config/config.yaml), echoed for what a creation request leaves unset.
DEFAULT_HNSW = cpb.HnswConfigDiff(
    m=16, ef_construct=100, full_scan_threshold=10000, max_indexing_threads=0, on_disk=False
)
DEFAULT_OPTIMIZERS = cpb.OptimizersConfigDiff(
    deleted_threshold=0.2,
    vacuum_min_vector_number=1000,
    default_segment_number=0,
    indexing_threshold=10000,
    flush_interval_sec=5,
    max_optimization_threads=cpb.MaxOptimizationThreads(setting=cpb.MaxOptimizationThreads.Auto),
)
DEFAULT_WAL = cpb.WalConfigDiff(wal_capacity_mb=32, wal_segments_ahead=0, wal_retain_closed=1)
DEFAULT_ON_DISK_PAYLOAD = True

DISTANCES: dict[int, qe.Distance] = {
    cpb.Cosine: qe.Distance.Cosine,
    cpb.Euclid: qe.Distance.Euclid,
    cpb.Dot: qe.Distance.Dot,
    cpb.Manhattan: qe.Distance.Manhattan,
}
DATATYPES: dict[int, qe.VectorStorageDatatype] = {
    cpb.Float32: qe.VectorStorageDatatype.Float32,
    cpb.Float16: qe.VectorStorageDatatype.Float16,
    cpb.Uint8: qe.VectorStorageDatatype.Uint8,
    cpb.Turbo8: qe.VectorStorageDatatype.Turbo8,
    cpb.Turbo16: qe.VectorStorageDatatype.Turbo16,
}
MEMORY: dict[int, qe.Memory] = {
    cpb.Cold: qe.Memory.Cold,
    cpb.Cached: qe.Memory.Cached,
    cpb.Pinned: qe.Memory.Pinned,
}
_COMPRESSION = {
    cpb.x4: qe.CompressionRatio.X4,
    cpb.x8: qe.CompressionRatio.X8,
    cpb.x16: qe.CompressionRatio.X16,
    cpb.x32: qe.CompressionRatio.X32,
    cpb.x64: qe.CompressionRatio.X64,
}
_BINARY_ENCODING = {
    cpb.OneBit: qe.BinaryQuantizationEncoding.OneBit,
    cpb.TwoBits: qe.BinaryQuantizationEncoding.TwoBits,
    cpb.OneAndHalfBits: qe.BinaryQuantizationEncoding.OneAndHalfBits,
}
_BINARY_QUERY_ENCODING = {
    cpb.BinaryQuantizationQueryEncoding.Default: qe.BinaryQuantizationQueryEncoding.Default,
    cpb.BinaryQuantizationQueryEncoding.Binary: qe.BinaryQuantizationQueryEncoding.Binary,
    cpb.BinaryQuantizationQueryEncoding.Scalar4Bits: (
        qe.BinaryQuantizationQueryEncoding.Scalar4Bits
    ),
    cpb.BinaryQuantizationQueryEncoding.Scalar8Bits: (
        qe.BinaryQuantizationQueryEncoding.Scalar8Bits
    ),
}
_TURBO_BITS = {
    cpb.Bits1: qe.TurboQuantBitSize.Bits1,
    cpb.Bits1_5: qe.TurboQuantBitSize.Bits1_5,
    cpb.Bits2: qe.TurboQuantBitSize.Bits2,
    cpb.Bits4: qe.TurboQuantBitSize.Bits4,
    cpb.Bits8: qe.TurboQuantBitSize.Bits8,
}
_MODIFIER_IDF = cpb.Modifier.Value("Idf")
_T = TypeVar("_T")


def _elapsed(start: float) -> float:
    return time.perf_counter() - start


def _opt(message: Any, name: str) -> Any:
    """An optional proto field's value, or None when it is unset."""
    return getattr(message, name) if message.HasField(name) else None


def _has(message: Any, name: str) -> bool:
    """`HasField` for a field name held in a variable."""
    return bool(message.HasField(name))


# ------------------------------------------------------------------ engine config


def edge_config(config: cpb.CreateCollection) -> qe.EdgeConfig:
    """The engine config of a (validated) creation request."""
    hnsw = config.hnsw_config if config.HasField("hnsw_config") else None
    return qe.EdgeConfig(
        vectors=_dense_vectors(config, hnsw),
        sparse_vectors=_sparse_vectors(config) or None,
        on_disk_payload=_opt(config, "on_disk_payload"),
        hnsw_config=hnsw_index(hnsw) if hnsw is not None else None,
        quantization_config=(
            quantization(config.quantization_config)
            if config.HasField("quantization_config")
            else None
        ),
        optimizers=(
            _optimizers(config.optimizers_config) if config.HasField("optimizers_config") else None
        ),
        payload_memory=(
            _unpinned(config.payload, "payload storage") if config.HasField("payload") else None
        ),
        id_tracker_memory=_memory_of(config, "id_tracker"),
    )


def dense_params(config: cpb.CreateCollection) -> dict[str, Any]:
    """The dense vectors of a creation request by name (`""` for the unnamed one)."""
    if not config.HasField("vectors_config"):
        return {}
    which = config.vectors_config.WhichOneof("config")
    if which == "params":
        return {"": config.vectors_config.params}
    if which == "params_map":
        return dict(config.vectors_config.params_map.map)
    return {}


def _dense_vectors(
    config: cpb.CreateCollection, hnsw: cpb.HnswConfigDiff | None
) -> qe.EdgeVectorParams | dict[str, qe.EdgeVectorParams] | None:
    if config.vectors_config.WhichOneof("config") == "params":
        return vector_params(config.vectors_config.params, hnsw)
    named = {name: vector_params(p, hnsw) for name, p in dense_params(config).items()}
    return named or None


def vector_params(p: cpb.VectorParams, hnsw: cpb.HnswConfigDiff | None) -> qe.EdgeVectorParams:
    """One dense vector's engine params; its HNSW diff applies over the collection's."""
    vector_hnsw = None
    if p.HasField("hnsw_config"):
        merged = cpb.HnswConfigDiff()
        if hnsw is not None:
            merged.MergeFrom(hnsw)
        merged.MergeFrom(p.hnsw_config)
        vector_hnsw = hnsw_index(merged)
    return qe.EdgeVectorParams(
        size=p.size,
        distance=distance(p.distance),
        on_disk=_opt(p, "on_disk"),
        multivector_config=multivector(p),
        datatype=datatype(p.datatype) if p.HasField("datatype") else None,
        quantization_config=(
            quantization(p.quantization_config) if p.HasField("quantization_config") else None
        ),
        hnsw_config=vector_hnsw,
        memory=_unpinned(p, "dense vector storage"),
    )


def _unpinned(params: Any, what: str) -> qe.Memory | None:
    """A memory placement where Qdrant refuses `Pinned` (dense vectors, payload)."""
    if not params.HasField("memory"):
        return None
    if params.memory == cpb.Pinned:
        raise InvalidArgument(
            "Validation error in body: [memory: `pinned` memory placement is not supported "
            f"for {what}]"
        )
    return memory(params.memory)


def distance(value: cpb.Distance.ValueType) -> qe.Distance:
    """A protobuf `Distance` as the engine's."""
    if value not in DISTANCES:
        raise InvalidArgument(f"Malformed distance parameter: {cpb.Distance.Name(value)}")
    return DISTANCES[value]


def multivector(p: Any) -> qe.MultiVectorConfig | None:
    """The multi-vector config of a `VectorParams`/`DenseVectorCreationConfig`, if any."""
    if not p.HasField("multivector_config"):
        return None
    if p.multivector_config.comparator != cpb.MaxSim:
        raise InvalidArgument("Unknown multi vector comparator")
    return qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)


def datatype(value: int) -> qe.VectorStorageDatatype | None:
    """A protobuf `Datatype` as the engine's; `Default` means unset."""
    if value == cpb.Default:
        return None
    if value == cpb.Turbo4:
        raise Unimplemented(
            "the `Turbo4` vector datatype is not supported by the embedded engine; "
            "use Float32, Float16, Uint8, Turbo8 or Turbo16"
        )
    if value not in DATATYPES:
        raise InvalidArgument(f"unknown vector datatype {value}")
    return DATATYPES[value]


def memory(value: int) -> qe.Memory | None:
    """A protobuf `Memory` placement as the engine's; `MemoryUnknown` means unset."""
    return MEMORY.get(value)


def _memory_of(config: cpb.CreateCollection, name: str) -> qe.Memory | None:
    if not _has(config, name):
        return None
    params = getattr(config, name)
    return memory(params.memory) if params.HasField("memory") else None


def hnsw_index(diff: cpb.HnswConfigDiff) -> qe.HnswIndexConfig:
    """A full engine HNSW config: the diff over Qdrant's defaults."""
    full = cpb.HnswConfigDiff()
    full.CopyFrom(DEFAULT_HNSW)
    full.MergeFrom(diff)
    return qe.HnswIndexConfig(
        m=full.m,
        ef_construct=full.ef_construct,
        full_scan_threshold=full.full_scan_threshold,
        max_indexing_threads=full.max_indexing_threads,
        on_disk=_opt(diff, "on_disk"),
        payload_m=_opt(full, "payload_m"),
        inline_storage=_opt(full, "inline_storage"),
        memory=memory(full.memory) if full.HasField("memory") else None,
    )


def quantization(q: Any) -> qe.QuantizationConfigType:
    """A protobuf `QuantizationConfig` (or a non-disabled diff) as the engine's."""
    kind = q.WhichOneof("quantization")
    if kind == "scalar":
        if q.scalar.type != cpb.Int8:
            raise InvalidArgument("Unknown quantization type")
        return qe.ScalarQuantizationConfig(
            qe.ScalarType.Int8,
            quantile=_opt(q.scalar, "quantile"),
            always_ram=_opt(q.scalar, "always_ram"),
            memory=memory(q.scalar.memory) if q.scalar.HasField("memory") else None,
        )
    if kind == "product":
        return qe.ProductQuantizationConfig(
            _known(_COMPRESSION, q.product.compression, cpb.CompressionRatio, "compression"),
            always_ram=_opt(q.product, "always_ram"),
            memory=memory(q.product.memory) if q.product.HasField("memory") else None,
        )
    if kind == "binary":
        return _binary(q.binary)
    if kind == "turboquant":
        t = q.turboquant
        return qe.TurboQuantQuantizationConfig(
            always_ram=_opt(t, "always_ram"),
            bits=_known(_TURBO_BITS, t.bits, cpb.TurboQuantBitSize, "bits")
            if t.HasField("bits")
            else None,
            memory=memory(t.memory) if t.HasField("memory") else None,
        )
    raise InvalidArgument("Unable to convert quantization config")


def _known(table: Mapping[Any, _T], value: Any, enum: Any, field: str) -> _T:
    """`table[value]`; a value the table lacks (protobuf enums are open) is refused."""
    if value not in table:
        names = ", ".join(enum.Name(number) for number in table)
        raise InvalidArgument(
            f"Wrong input: unknown quantization {field} value {value}; use one of: {names}"
        )
    return table[value]


def _binary(b: cpb.BinaryQuantization) -> qe.BinaryQuantizationConfig:
    query = None
    if b.HasField("query_encoding"):
        if b.query_encoding.WhichOneof("variant") != "setting":
            raise InvalidArgument("Malformed `BinaryQuantizationQueryEncoding`")
        query = _known(
            _BINARY_QUERY_ENCODING,
            b.query_encoding.setting,
            cpb.BinaryQuantizationQueryEncoding.Setting,
            "query_encoding",
        )
    return qe.BinaryQuantizationConfig(
        always_ram=_opt(b, "always_ram"),
        encoding=(
            _known(_BINARY_ENCODING, b.encoding, cpb.BinaryQuantizationEncoding, "encoding")
            if b.HasField("encoding")
            else None
        ),
        query_encoding=query,
        memory=memory(b.memory) if b.HasField("memory") else None,
    )


def _optimizers(o: cpb.OptimizersConfigDiff) -> qe.EdgeOptimizersConfig:
    return qe.EdgeOptimizersConfig(
        deleted_threshold=_opt(o, "deleted_threshold"),
        vacuum_min_vector_number=_opt(o, "vacuum_min_vector_number"),
        default_segment_number=_opt(o, "default_segment_number"),
        max_segment_size=_opt(o, "max_segment_size"),
        indexing_threshold=_opt(o, "indexing_threshold"),
        prevent_unoptimized=_opt(o, "prevent_unoptimized"),
    )


def _sparse_vectors(config: cpb.CreateCollection) -> dict[str, qe.EdgeSparseVectorParams]:
    return {name: sparse_params(p) for name, p in config.sparse_vectors_config.map.items()}


def sparse_params(p: cpb.SparseVectorParams) -> qe.EdgeSparseVectorParams:
    """One sparse vector's engine params."""
    index = p.index if p.HasField("index") else cpb.SparseIndexConfig()
    return qe.EdgeSparseVectorParams(
        full_scan_threshold=_opt(index, "full_scan_threshold"),
        on_disk=_opt(index, "on_disk"),
        modifier=modifier(p.modifier) if p.HasField("modifier") else None,
        datatype=datatype(index.datatype) if index.HasField("datatype") else None,
        memory=memory(index.memory) if index.HasField("memory") else None,
    )


def modifier(value: int) -> qe.Modifier | None:
    """A protobuf sparse `Modifier` as the engine's (`None` means no modifier)."""
    return qe.Modifier.Idf if value == _MODIFIER_IDF else None


# ------------------------------------------------------------------ validation


def _invalid_body(field: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"Validation error in body: [{field}: {message}]")


def validate_vector_name(name: str, field: str) -> None:
    """Refuse a vector name as Qdrant does (it becomes a directory inside segments)."""
    if len(name.encode()) > MAX_VECTOR_NAME_BYTES:
        raise _invalid_body(
            field, f"vector name must be at most {MAX_VECTOR_NAME_BYTES} bytes long"
        )
    for char in _INVALID_VECTOR_NAME_CHARS:
        if char in name:
            raise _invalid_body(field, f'vector name cannot contain "{char}" char')


def validate_vector_size(size: int, field: str) -> None:
    """Refuse a dense vector size outside Qdrant's 1..65536."""
    if not 1 <= size <= MAX_VECTOR_SIZE:
        raise _invalid_body(f"{field}.size", f"value {size} invalid, must be from 1 to 65536")


def check_create(request: cpb.CreateCollection) -> None:
    """Refuse what Qdrant refuses in a creation request, and what the engine cannot do."""
    validate_collection_name(request.collection_name)
    for name in ("shard_number", "replication_factor", "write_consistency_factor"):
        if _has(request, name) and getattr(request, name) == 0:
            raise _invalid_body(name, "value 0 invalid, must be 1 or larger")
    hnsw = request.hnsw_config
    if request.HasField("hnsw_config") and hnsw.HasField("ef_construct") and hnsw.ef_construct < 4:
        raise _invalid_body(
            "hnsw_config.ef_construct",
            f"value {request.hnsw_config.ef_construct} invalid, must be 4 or larger",
        )
    dense = dense_params(request)
    for name, params in dense.items():
        field = "vectors_config.params" if name == "" else f"vectors_config.params_map.{name}"
        validate_vector_name(name, field)
        validate_vector_size(params.size, field)
        distance(params.distance)
    for name in request.sparse_vectors_config.map:
        if name == "":
            raise InvalidArgument("Wrong input: Sparse vector name cannot be empty")
        validate_vector_name(name, f"sparse_vectors_config.{name}")
        if name in dense:
            raise InvalidArgument(
                f"Wrong input: vector name `{name}` is declared both as dense and as sparse"
            )
    check_supported(request)


def check_supported(request: cpb.CreateCollection) -> None:
    """Unimplemented for the constructs the embedded engine cannot honour."""
    if not dense_params(request) and not request.sparse_vectors_config.map:
        raise Unimplemented(
            "a collection without vectors is not supported by the embedded engine; "
            "declare vectors_config or sparse_vectors_config"
        )
    if request.HasField("sharding_method") and request.sharding_method == cpb.Custom:
        raise Unimplemented(
            "custom sharding (sharding_method=Custom, shard keys) is not supported by the "
            "embedded engine: each collection is one shard"
        )
    check_strict_mode(request)


def check_strict_mode(request: Any) -> None:
    """Strict mode limits are not enforced here, so enabling it is refused."""
    if request.HasField("strict_mode_config") and request.strict_mode_config.enabled:
        raise Unimplemented(
            "strict mode (strict_mode_config.enabled) is not enforced by the embedded "
            "engine; leave it disabled"
        )


# ------------------------------------------------------------------ collection info


def collection_info(collection: Collection) -> cpb.CollectionInfo:
    """`CollectionInfo` as a single-node Qdrant reports it."""
    info = collection.shard.info()
    out = cpb.CollectionInfo(
        status=cpb.Green,
        optimizer_status=cpb.OptimizerStatus(ok=True),
        segments_count=info.segments_count,
        points_count=info.points_count,
        indexed_vectors_count=info.indexed_vectors_count,
        update_queue=cpb.UpdateQueueInfo(length=0),
    )
    _fill_config(collection, out.config)
    for field_name, index in info.payload_schema.items():
        fill_payload_schema(index, out.payload_schema[field_name])
    created = Timestamp()
    created.FromDatetime(collection.created_at)
    out.created_at.CopyFrom(created)
    return out


def _fill_config(collection: Collection, out: cpb.CollectionConfig) -> None:
    request = collection.config
    params = out.params
    params.shard_number = request.shard_number if request.HasField("shard_number") else 1
    params.replication_factor = (
        request.replication_factor if request.HasField("replication_factor") else 1
    )
    params.write_consistency_factor = (
        request.write_consistency_factor if request.HasField("write_consistency_factor") else 1
    )
    params.on_disk_payload = (
        request.on_disk_payload if request.HasField("on_disk_payload") else DEFAULT_ON_DISK_PAYLOAD
    )
    for name in ("vectors_config", "sparse_vectors_config", "sharding_method", "payload"):
        if _has(request, name):
            _copy_field(request, params, name)
    if request.HasField("id_tracker"):
        params.id_tracker.CopyFrom(request.id_tracker)
    out.hnsw_config.CopyFrom(DEFAULT_HNSW)
    out.hnsw_config.MergeFrom(request.hnsw_config)
    out.optimizer_config.CopyFrom(DEFAULT_OPTIMIZERS)
    out.optimizer_config.MergeFrom(request.optimizers_config)
    out.wal_config.CopyFrom(DEFAULT_WAL)
    out.wal_config.MergeFrom(request.wal_config)
    if request.HasField("quantization_config"):
        out.quantization_config.CopyFrom(request.quantization_config)
    if request.HasField("strict_mode_config"):
        out.strict_mode_config.CopyFrom(request.strict_mode_config)
    python_to_payload(collection.metadata, out.metadata)


def _copy_field(source: Any, target: Any, name: str) -> None:
    value = getattr(source, name)
    if hasattr(value, "CopyFrom"):
        getattr(target, name).CopyFrom(value)
    else:
        setattr(target, name, value)


_SCHEMA_TYPES = {
    qe.PayloadSchemaType.Keyword: cpb.Keyword,
    qe.PayloadSchemaType.Integer: cpb.Integer,
    qe.PayloadSchemaType.Float: cpb.Float,
    qe.PayloadSchemaType.Geo: cpb.Geo,
    qe.PayloadSchemaType.Text: cpb.Text,
    qe.PayloadSchemaType.Bool: cpb.Bool,
    qe.PayloadSchemaType.Datetime: cpb.Datetime,
    qe.PayloadSchemaType.Uuid: cpb.Uuid,
}
#: Engine params class -> (oneof field of `PayloadIndexParams`, attributes copied as they are).
_INDEX_PARAMS: dict[type, tuple[str, tuple[str, ...]]] = {
    qe.KeywordIndexParams: ("keyword_index_params", ("is_tenant", "on_disk", "enable_hnsw")),
    qe.IntegerIndexParams: (
        "integer_index_params",
        ("lookup", "range", "is_principal", "on_disk", "enable_hnsw"),
    ),
    qe.FloatIndexParams: ("float_index_params", ("is_principal", "on_disk", "enable_hnsw")),
    qe.GeoIndexParams: ("geo_index_params", ("on_disk", "enable_hnsw")),
    qe.BoolIndexParams: ("bool_index_params", ("on_disk", "enable_hnsw")),
    qe.DatetimeIndexParams: (
        "datetime_index_params",
        ("is_principal", "on_disk", "enable_hnsw"),
    ),
    qe.UuidIndexParams: ("uuid_index_params", ("is_tenant", "on_disk", "enable_hnsw")),
    qe.TextIndexParams: (
        "text_index_params",
        (
            "lowercase",
            "min_token_len",
            "max_token_len",
            "on_disk",
            "phrase_matching",
            "ascii_folding",
            "enable_hnsw",
        ),
    ),
}
_MEMORY_BACK = {str(engine): proto for proto, engine in MEMORY.items()}


def fill_payload_schema(index: qe.PayloadIndexInfo, out: cpb.PayloadSchemaInfo) -> None:
    """One engine payload index as Qdrant's `PayloadSchemaInfo`."""
    out.data_type = _SCHEMA_TYPES[index.data_type]
    out.points = index.points
    params = index.params
    if params is not None:
        fill_index_params(params, out.params)


def fill_index_params(params: Any, out: cpb.PayloadIndexParams) -> None:
    """Engine payload index params as Qdrant's `PayloadIndexParams`."""
    oneof, attributes = _INDEX_PARAMS[type(params)]
    target = getattr(out, oneof)
    target.SetInParent()
    for name in attributes:
        value = getattr(params, name)
        if value is not None:
            setattr(target, name, value)
    if params.memory is not None:
        target.memory = _MEMORY_BACK[str(params.memory)]
    if params.nested is not None:
        target.nested = params.nested
    if isinstance(params, qe.KeywordIndexParams) and params.prefix:
        target.prefix.SetInParent()
    if isinstance(params, qe.TextIndexParams):
        _fill_text_params(params, target)


def _fill_text_params(params: qe.TextIndexParams, out: cpb.TextIndexParams) -> None:
    out.tokenizer = cpb.TokenizerType.Value(_enum_name(params.tokenizer))
    stopwords = params.stopwords
    if isinstance(stopwords, qe.StopwordsSet):
        out.stopwords.languages.extend(
            sorted(_enum_name(lang).lower() for lang in stopwords.languages or ())
        )
        out.stopwords.custom.extend(sorted(stopwords.custom or ()))
    elif stopwords is not None:
        out.stopwords.languages.append(_enum_name(stopwords).lower())
    stemmer = params.stemmer
    if isinstance(stemmer, qe.SnowballParams):
        out.stemmer.snowball.language = _enum_name(stemmer.language).lower()
    elif isinstance(stemmer, qe.DisabledStemmer):
        out.stemmer.disabled.SetInParent()
    if params.scoring is not None:
        out.scoring.type = cpb.Bm25


def _enum_name(value: Any) -> str:
    """The member name of an engine enum value (`Language.English` -> `English`)."""
    return str(value).rpartition(".")[2]


# ------------------------------------------------------------------ handlers


@rpc("/qdrant.Collections/Create")
def create(catalog: Catalog, request: cpb.CreateCollection) -> cpb.CollectionOperationResponse:
    """Create a collection (one engine shard)."""
    start = time.perf_counter()
    check_create(request)
    catalog.create(request, edge_config(request))
    return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))


@rpc("/qdrant.Collections/Get")
def get(catalog: Catalog, request: cpb.GetCollectionInfoRequest) -> cpb.GetCollectionInfoResponse:
    """Collection info: counts, echoed config, payload indexes, metadata."""
    start = time.perf_counter()
    info = collection_info(catalog.get(request.collection_name))
    return cpb.GetCollectionInfoResponse(result=info, time=_elapsed(start))


@rpc("/qdrant.Collections/List")
def list_collections(
    catalog: Catalog, request: cpb.ListCollectionsRequest
) -> cpb.ListCollectionsResponse:
    """Every collection name, sorted."""
    start = time.perf_counter()
    response = cpb.ListCollectionsResponse()
    for name in catalog.names():
        response.collections.add(name=name)
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Collections/CollectionExists")
def exists(catalog: Catalog, request: cpb.CollectionExistsRequest) -> cpb.CollectionExistsResponse:
    """Whether a collection (or an alias) of that name exists."""
    start = time.perf_counter()
    found = catalog.exists(request.collection_name)
    return cpb.CollectionExistsResponse(
        result=cpb.CollectionExists(exists=found), time=_elapsed(start)
    )


@rpc("/qdrant.Collections/Delete")
def delete(catalog: Catalog, request: cpb.DeleteCollection) -> cpb.CollectionOperationResponse:
    """Delete a collection and its aliases; `result=false` when there was none (as Qdrant)."""
    start = time.perf_counter()
    deleted = catalog.delete(request.collection_name)
    return cpb.CollectionOperationResponse(result=deleted, time=_elapsed(start))


@rpc("/qdrant.Collections/Update")
def update(catalog: Catalog, request: cpb.UpdateCollection) -> cpb.CollectionOperationResponse:
    """Merge metadata and apply index settings; everything is checked before anything changes."""
    start = time.perf_counter()
    collection = catalog.get(request.collection_name)
    config = cpb.CreateCollection()
    config.CopyFrom(collection.config)
    engine_changed = apply_update(config, request)
    metadata = merge_metadata(collection.metadata, request.metadata)
    if engine_changed:
        catalog.reload(collection, edge_config(config))
    collection.config = config
    collection.metadata = metadata
    catalog.save(collection)
    return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))


def merge_metadata(current: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Qdrant's metadata merge: keys replaced, a null removes a key; unset metadata is set."""
    incoming = payload_to_python(update)
    if not current:
        return incoming
    merged = dict(current)
    for key, value in incoming.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def apply_update(config: cpb.CreateCollection, request: cpb.UpdateCollection) -> bool:
    """Apply an update's diffs to a copy of the stored config; whether the engine must reload."""
    check_strict_mode(request)
    changed = False
    if request.HasField("params"):
        changed |= _apply_params(config, request.params)
    if request.HasField("hnsw_config"):
        config.hnsw_config.MergeFrom(request.hnsw_config)
        changed = True
    if request.HasField("optimizers_config"):
        config.optimizers_config.MergeFrom(request.optimizers_config)
        changed = True
    if request.HasField("quantization_config"):
        _apply_quantization(config, "quantization_config", request.quantization_config)
        changed = True
    if request.HasField("vectors_config"):
        _apply_vectors_diff(config, request.vectors_config)
        changed = True
    if request.HasField("sparse_vectors_config"):
        _apply_sparse_diff(config, request.sparse_vectors_config)
        changed = True
    if changed:
        edge_config(config)  # refuse a bad diff before anything is changed
    return changed


def _apply_params(config: cpb.CreateCollection, diff: cpb.CollectionParamsDiff) -> bool:
    for name in ("read_fan_out_factor", "read_fan_out_delay_ms"):
        if _has(diff, name):
            raise Unimplemented(
                f"`{name}` is not supported by the embedded engine: there are no replicas"
            )
    for name in ("replication_factor", "write_consistency_factor"):
        if _has(diff, name):
            if getattr(diff, name) == 0:
                raise InvalidArgument(f"`{name}` cannot be 0")
            setattr(config, name, getattr(diff, name))
    changed = False
    if diff.HasField("on_disk_payload"):
        config.on_disk_payload = diff.on_disk_payload
        changed = True
    for name in ("payload", "id_tracker"):
        if _has(diff, name):
            getattr(config, name).MergeFrom(getattr(diff, name))
            changed = True
    return changed


def _apply_quantization(target: Any, field: str, diff: cpb.QuantizationConfigDiff) -> None:
    kind = diff.WhichOneof("quantization")
    if kind is None:
        raise InvalidArgument("Quantization type is not specified")
    if kind != "disabled":
        getattr(getattr(target, field), kind).CopyFrom(getattr(diff, kind))
    elif _has(target, field):
        raise Unimplemented(_NO_UNSET.format(what="quantization"))


_NO_UNSET = (
    "removing {what} from an existing collection is not supported by the embedded engine "
    "(it keeps the current settings when one is left out); set other values instead, or "
    "recreate the collection"
)


def _apply_vectors_diff(config: cpb.CreateCollection, diff: cpb.VectorsConfigDiff) -> None:
    which = diff.WhichOneof("config")
    diffs = {"": diff.params} if which == "params" else dict(diff.params_map.map)
    dense = dense_params(config)
    for name in diffs:
        if name not in dense:
            raise InvalidArgument(f"Wrong input: Not existing vector name error: {name}")
    for name, vector_diff in diffs.items():
        params = dense[name]
        if vector_diff.HasField("hnsw_config"):
            if vector_diff.hnsw_config.ListFields():
                params.hnsw_config.MergeFrom(vector_diff.hnsw_config)
            elif params.HasField("hnsw_config"):  # an empty object unsets it, in Qdrant
                raise Unimplemented(_NO_UNSET.format(what=f"the HNSW config of vector `{name}`"))
        if vector_diff.HasField("quantization_config"):
            _apply_quantization(params, "quantization_config", vector_diff.quantization_config)
        for name_ in ("on_disk", "memory"):
            if _has(vector_diff, name_):
                setattr(params, name_, getattr(vector_diff, name_))


def _apply_sparse_diff(config: cpb.CreateCollection, diff: cpb.SparseVectorConfig) -> None:
    stored = config.sparse_vectors_config.map
    for name in diff.map:
        if name not in stored:
            raise InvalidArgument(f"Wrong input: Not existing vector name error: {name}")
    for name, params in diff.map.items():
        current = stored[name]
        if params.HasField("modifier") and params.modifier != current.modifier:
            raise Unimplemented(
                f"changing the modifier of sparse vector `{name}` is not supported by the "
                "embedded engine; recreate the collection"
            )
        index = params.index
        if index.HasField("datatype") and index.datatype != current.index.datatype:
            raise Unimplemented(
                f"changing the datatype of sparse vector `{name}` is not supported by the "
                "embedded engine; recreate the collection"
            )
        if params.HasField("index"):
            current.index.MergeFrom(index)


@rpc("/qdrant.Collections/UpdateAliases")
def update_aliases(catalog: Catalog, request: cpb.ChangeAliases) -> cpb.CollectionOperationResponse:
    """Create, rename and delete aliases, in order, all or nothing."""
    start = time.perf_counter()
    catalog.change_aliases(request.actions)
    return cpb.CollectionOperationResponse(result=True, time=_elapsed(start))


@rpc("/qdrant.Collections/ListAliases")
def list_aliases(catalog: Catalog, request: cpb.ListAliasesRequest) -> cpb.ListAliasesResponse:
    """Every alias with its collection, sorted by alias."""
    start = time.perf_counter()
    response = cpb.ListAliasesResponse()
    for alias, name in sorted(catalog.aliases.items()):
        response.aliases.add(alias_name=alias, collection_name=name)
    response.time = _elapsed(start)
    return response


@rpc("/qdrant.Collections/ListCollectionAliases")
def list_collection_aliases(
    catalog: Catalog, request: cpb.ListCollectionAliasesRequest
) -> cpb.ListAliasesResponse:
    """The aliases of one collection (empty for an unknown name, as Qdrant)."""
    start = time.perf_counter()
    response = cpb.ListAliasesResponse()
    for alias in catalog.aliases_of(request.collection_name):
        response.aliases.add(alias_name=alias, collection_name=request.collection_name)
    response.time = _elapsed(start)
    return response
