"""`qdrant.Points` writes on the embedded engine: upserts, deletes, payload, vectors, indexes.

Everything a request carries is converted and checked before the first engine call,
so a refused request writes nothing. This matters more than usual: the engine applies
an operation point by point and stops at the first bad one (earlier points stay
written), and it logs every operation to its WAL *before* applying it, so a malformed
multi-vector or sparse vector that reaches it panics now and again on every reload.
The checks:

- every vector against the collection's config: known name, dense/sparse/multi kind,
  dimension, equal rows, sparse indices unique and as many as values;
- every point id a by-id operation needs must exist (NotFound, like Qdrant), counting
  points created or deleted by id earlier in the same batch.

One gap remains: a point deleted by *filter* earlier in a batch is still counted as
existing, so a later by-id operation on it fails in the engine after the earlier
operations were applied (as it would on a Qdrant server).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import qdrant_edge as qe
from qdrant_client.grpc import collections_pb2 as cpb
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.collections import (
    datatype,
    dense_params,
    distance,
    memory,
    modifier,
    multivector,
    validate_vector_name,
    validate_vector_size,
)
from adapters.embedded.dispatch import rpc
from adapters.embedded.filters import filter_to_edge, to_edge_filter
from adapters.embedded.vectors import point_vector_to_edge
from proxy.errors import InvalidArgument, NotFound, Unimplemented
from proxy.values import payload_to_python, point_id_to_python
from proxy.wire_points import PackedPoints, read_upsert

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from adapters.embedded.catalog import Catalog, Collection

DENSE, MULTI, SPARSE = "dense", "multi", "sparse"
_UPDATE_MODES: dict[int, qe.UpdateMode] = {
    ppb.Upsert: qe.UpdateMode.Upsert,
    ppb.InsertOnly: qe.UpdateMode.InsertOnly,
    ppb.UpdateOnly: qe.UpdateMode.UpdateOnly,
}


# ------------------------------------------------------------------ vector checks


@dataclass(frozen=True, slots=True)
class VectorSpec:
    """What one vector name of a collection accepts."""

    kind: str  # DENSE, MULTI or SPARSE
    size: int = 0  # dimension (dense and multi)


def vector_specs(config: cpb.CreateCollection) -> dict[str, VectorSpec]:
    """The vector names of a collection and what each accepts."""
    specs = {
        name: VectorSpec(MULTI if p.HasField("multivector_config") else DENSE, p.size)
        for name, p in dense_params(config).items()
    }
    for name in config.sparse_vectors_config.map:
        specs[name] = VectorSpec(SPARSE)
    return specs


def _wrong_input(message: str) -> InvalidArgument:
    return InvalidArgument(f"Wrong input: {message}")


def _dimension_error(expected: int, got: int) -> InvalidArgument:
    return _wrong_input(f"Vector dimension error: expected dim: {expected}, got {got}")


def check_vectors(specs: dict[str, VectorSpec], vector: Any) -> None:
    """Refuse an engine vector (single or named map) that the collection cannot store."""
    if isinstance(vector, dict):
        for name, value in vector.items():
            check_vector(_spec(specs, name), value)
    else:
        check_vector(_spec(specs, ""), vector)


def _spec(specs: dict[str, VectorSpec], name: str) -> VectorSpec:
    spec = specs.get(name)
    if spec is None:
        raise _wrong_input(f"Not existing vector name error: {name}")
    return spec


def check_vector(spec: VectorSpec, value: Any) -> None:
    """Refuse one vector whose kind or dimension does not fit `spec`."""
    if type(value) is list:
        if value and type(value[0]) is list:
            if spec.kind != MULTI:
                raise _wrong_input(_conversion_error(spec.kind, MULTI))
            _check_multi(spec.size, value)
        elif spec.kind == SPARSE:
            raise _wrong_input(_conversion_error(SPARSE, DENSE))
        elif len(value) != spec.size:
            raise _dimension_error(spec.size, len(value))
    elif isinstance(value, qe.SparseVector):
        if spec.kind != SPARSE:
            raise _wrong_input(_conversion_error(spec.kind, SPARSE))
        _check_sparse(value)
    else:
        raise InvalidArgument(f"a vector of type {type(value).__name__} is not supported")


def _conversion_error(stored: str, sent: str) -> str:
    """Qdrant's text for a vector of the wrong kind (sparse vs regular, multi vs regular)."""
    if SPARSE in (stored, sent):
        return "Conversion between sparse and regular vectors failed"
    return "Conversion between multi and regular vectors failed"


def _check_multi(size: int, rows: list[list[float]]) -> None:
    first = len(rows[0])
    if first == 0:
        raise _wrong_input("Validation failed: MultiDenseVector cannot have zero dimension")
    for row in rows:
        if len(row) != first:
            raise _dimension_error(first, len(row))
    if first != size:
        raise _dimension_error(size, first)


def _check_sparse(vector: qe.SparseVector) -> None:
    indices = vector.indices
    if len(indices) != len(vector.values):
        raise InvalidArgument(
            "Validation error in body: [vector.sparse.values: must be the same length as indices]"
        )
    if len(set(indices)) != len(indices):
        raise InvalidArgument("Validation error in body: [vector.sparse.indices: must be unique]")


# ------------------------------------------------------------------ planned steps


@dataclass
class Step:
    """One engine operation, with the point ids it needs and the ones it creates or removes."""

    op: qe.UpdateOperation
    needs: list[qe.PointId] = field(default_factory=list)
    creates: list[qe.PointId] = field(default_factory=list)
    removes: list[qe.PointId] = field(default_factory=list)


def check_existing(shard: qe.EdgeShard, steps: Sequence[Step]) -> None:
    """NotFound (before anything is written) for an id a by-id step needs but will not find."""
    needed = list({key: None for step in steps for key in step.needs})
    if not needed:
        return
    present = {record.id for record in shard.retrieve(needed, False, False)}
    for step in steps:
        for key in step.needs:
            if key not in present:
                raise NotFound(f"Not found: No point with id {key} found", reason="no_point")
        present.update(step.creates)
        present.difference_update(step.removes)


def execute(catalog: Catalog, collection: Collection, steps: Sequence[Step]) -> list[int]:
    """Apply checked steps in order; returns one operation id per step."""
    check_existing(collection.shard, steps)
    for step in steps:
        collection.shard.update(step.op)
    return catalog.committed(collection, len(steps))


def operation_response(start: float, operation_id: int) -> ppb.PointsOperationResponse:
    """Qdrant's answer to an applied write."""
    return ppb.PointsOperationResponse(
        result=ppb.UpdateResult(operation_id=operation_id, status=ppb.Completed),
        time=time.perf_counter() - start,
    )


def _run(catalog: Catalog, name: str, plan: Any, *args: Any) -> ppb.PointsOperationResponse:
    """Resolve the collection, plan one step with `plan(collection, *args)`, apply it."""
    start = time.perf_counter()
    collection = catalog.get(name)
    step = plan(collection, *args)
    return operation_response(start, execute(catalog, collection, [step])[0])


def _no_shard_key(message: Any) -> None:
    if message.HasField("shard_key_selector"):
        raise Unimplemented(
            "shard keys (shard_key_selector) are not supported by the embedded engine: "
            "each collection is one shard; leave it unset"
        )


def _point_key(message: Any, missing: str) -> qe.PointId:
    if not message.HasField("id"):
        raise InvalidArgument(missing)
    return point_id_to_python(message.id)


def _selector(
    selector: ppb.PointsSelector | None, missing: str
) -> tuple[list[qe.PointId] | None, qe.Filter | None]:
    """A `PointsSelector` as (ids, None) or (None, filter); an empty filter matches all."""
    kind = selector.WhichOneof("points_selector_one_of") if selector is not None else None
    if kind == "points":
        assert selector is not None
        return [point_id_to_python(p) for p in selector.points.ids], None
    if kind == "filter":
        assert selector is not None
        return None, filter_to_edge(selector.filter)
    raise InvalidArgument(missing)


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


# ------------------------------------------------------------------ plans


def _converted(
    collection: Collection, points: Iterable[Any], missing_id: str
) -> Iterator[tuple[qe.PointId, qe.Vector, Any]]:
    """(id, checked engine vector, message) for each point of an upsert or vector update."""
    specs = vector_specs(collection.config)
    for point in points:
        key = _point_key(point, missing_id)
        if not point.HasField("vectors"):
            raise InvalidArgument("Expected some vectors")
        vector = point_vector_to_edge(point.vectors)
        check_vectors(specs, vector)
        yield key, vector, point


def _packed_points(
    collection: Collection, request: ppb.UpsertPoints, packed: PackedPoints | None
) -> tuple[list[qe.Point], list[qe.PointId]] | None:
    """The engine points of an upsert whose vectors all fit the one unnamed dense vector.

    Vectors and numeric ids are read from the wire bytes in one pass (`wire_points`;
    `packed` when the gateway has read them already): no per-point vector conversion
    or check. None means: take the general path.
    """
    specs = vector_specs(collection.config)
    spec = specs.get("")
    if len(specs) != 1 or spec is None or spec.kind != DENSE:
        return None
    if packed is None:
        packed = read_upsert(request)
    matrix = packed.matrix(spec.size)
    if matrix is None:
        return None
    points = request.points
    numeric = packed.numeric_ids()
    keys: list[qe.PointId] = (
        list(numeric)
        if numeric is not None
        else [_point_key(point, "Empty ID is not allowed") for point in points]
    )
    tags = packed.tags
    if tags is None:
        payloads = [payload_to_python(p.payload) if len(p.payload) else None for p in points]
    else:  # the Tag filter's entries, written on every point (decision 49)
        payloads = [{**payload_to_python(p.payload), **tags} for p in points]
    return list(map(qe.Point, keys, matrix.tolist(), payloads)), keys


def _with_tags(payload: dict[str, Any] | None, tags: dict[str, str] | None) -> Any:
    """A point's payload with the Tag filter's entries, when they come apart from it."""
    if tags is None:
        return payload
    return {**payload, **tags} if payload else dict(tags)


def plan_upsert(
    collection: Collection,
    points: Iterable[ppb.PointStruct],
    update_filter: Any = None,
    update_mode: int | None = None,
    request: ppb.UpsertPoints | None = None,
    *,
    packed: PackedPoints | None = None,
) -> Step:
    """Convert and check every point; the upsert creates them (unless update-only).

    With the whole `request`, plain dense upserts take the wire fast path (`packed`:
    its points as the gateway read them).
    """
    tags = packed.tags if packed is not None else None
    fast = _packed_points(collection, request, packed) if request is not None else None
    if fast is not None:
        engine_points, keys = fast
    else:
        engine_points, keys = [], []
        for key, vector, point in _converted(collection, points, "Empty ID is not allowed"):
            payload = _with_tags(payload_to_python(point.payload) if point.payload else None, tags)
            engine_points.append(qe.Point(key, vector, payload))
            keys.append(key)
    mode = _UPDATE_MODES.get(update_mode) if update_mode is not None else None
    op = qe.UpdateOperation.upsert_points(engine_points, to_edge_filter(update_filter), mode)
    return Step(op, creates=[] if update_mode == ppb.UpdateOnly else keys)


def plan_delete(collection: Collection, selector: ppb.PointsSelector | None) -> Step:
    """Delete by ids (missing ones are ignored, as Qdrant) or by filter."""
    ids, condition = _selector(selector, "PointSelector is missing")
    if ids is not None:
        return Step(qe.UpdateOperation.delete_points(ids), removes=ids)
    assert condition is not None
    return Step(qe.UpdateOperation.delete_points_by_filter(condition))


def plan_update_vectors(
    collection: Collection, points: Iterable[ppb.PointVectors], update_filter: Any = None
) -> Step:
    """Replace the given vectors of existing points."""
    engine_points = []
    keys = []
    for key, vector, _ in _converted(collection, points, "id is expected"):
        engine_points.append(qe.PointVectors(key, vector))
        keys.append(key)
    op = qe.UpdateOperation.update_vectors(engine_points, to_edge_filter(update_filter))
    return Step(op, needs=keys)


def plan_delete_vectors(
    collection: Collection, selector: ppb.PointsSelector | None, vectors: Any
) -> Step:
    """Remove named vectors from points (by ids or filter)."""
    ids, condition = _selector(selector, "points_selector is expected")
    if vectors is None:
        raise InvalidArgument("vectors is expected")
    names = list(vectors.names)
    if not names:
        raise InvalidArgument(
            "Validation error in body: [vectors.names: must specify vector names to delete]"
        )
    specs = vector_specs(collection.config)
    for name in names:
        if name not in specs:
            raise _wrong_input(f"Not existing vector name error: {name}")
    if ids is not None:
        return Step(qe.UpdateOperation.delete_vectors(ids, names), needs=ids)
    assert condition is not None
    return Step(qe.UpdateOperation.delete_vectors_by_filter(condition, names))


def plan_set_payload(
    collection: Collection,
    selector: ppb.PointsSelector | None,
    payload: Any,
    key: str | None,
    overwrite: bool = False,
) -> Step:
    """Set (merge) or overwrite payload, optionally under a nested `key` (set only)."""
    ids, condition = _selector(selector, "points_selector is expected")
    values = payload_to_python(payload)
    ops = qe.UpdateOperation
    if overwrite:  # Qdrant ignores `key` on overwrite
        if ids is not None:
            return Step(ops.overwrite_payload(ids, values), needs=ids)
        assert condition is not None
        return Step(ops.overwrite_payload_by_filter(condition, values))
    if ids is not None:
        return Step(ops.set_payload(ids, values, key), needs=ids)
    assert condition is not None
    return Step(ops.set_payload_by_filter(condition, values, key))


def plan_delete_payload(
    collection: Collection, selector: ppb.PointsSelector | None, keys: Sequence[str]
) -> Step:
    """Remove payload keys from points."""
    ids, condition = _selector(selector, "points_selector is expected")
    if ids is not None:
        return Step(qe.UpdateOperation.delete_payload(ids, list(keys)), needs=ids)
    assert condition is not None
    return Step(qe.UpdateOperation.delete_payload_by_filter(condition, list(keys)))


def plan_clear_payload(collection: Collection, selector: ppb.PointsSelector | None) -> Step:
    """Remove the whole payload of points."""
    ids, condition = _selector(selector, "PointSelector is missing")
    if ids is not None:
        return Step(qe.UpdateOperation.clear_payload(ids), needs=ids)
    assert condition is not None
    return Step(qe.UpdateOperation.clear_payload_by_filter(condition))


# ------------------------------------------------------------------ point handlers


@rpc("/qdrant.Points/Upsert")
def upsert(catalog: Catalog, request: ppb.UpsertPoints) -> ppb.PointsOperationResponse:
    """Insert or replace points (conditionally with `update_filter`, per `update_mode`)."""
    return upsert_read(catalog, request, None)


def upsert_read(
    catalog: Catalog, request: ppb.UpsertPoints, packed: PackedPoints | None
) -> ppb.PointsOperationResponse:
    """`upsert`, its points given as the gateway read them (`Backend.handle`'s `packed`)."""
    _no_shard_key(request)
    return _run(
        catalog,
        request.collection_name,
        partial(plan_upsert, packed=packed),
        request.points,
        _optional(request, "update_filter"),
        _optional(request, "update_mode"),
        request,
    )


@rpc("/qdrant.Points/Delete")
def delete(catalog: Catalog, request: ppb.DeletePoints) -> ppb.PointsOperationResponse:
    """Delete points by ids or filter."""
    _no_shard_key(request)
    return _run(catalog, request.collection_name, plan_delete, _optional(request, "points"))


@rpc("/qdrant.Points/UpdateVectors")
def update_vectors(
    catalog: Catalog, request: ppb.UpdatePointVectors
) -> ppb.PointsOperationResponse:
    """Replace vectors of existing points (NotFound for a missing id, nothing written)."""
    _no_shard_key(request)
    return _run(
        catalog,
        request.collection_name,
        plan_update_vectors,
        request.points,
        _optional(request, "update_filter"),
    )


@rpc("/qdrant.Points/DeleteVectors")
def delete_vectors(
    catalog: Catalog, request: ppb.DeletePointVectors
) -> ppb.PointsOperationResponse:
    """Remove named vectors from points."""
    _no_shard_key(request)
    return _run(
        catalog,
        request.collection_name,
        plan_delete_vectors,
        _optional(request, "points_selector"),
        _optional(request, "vectors"),
    )


@rpc("/qdrant.Points/SetPayload")
def set_payload(catalog: Catalog, request: ppb.SetPayloadPoints) -> ppb.PointsOperationResponse:
    """Merge payload keys into points (under `key` if given)."""
    _no_shard_key(request)
    return _run(
        catalog,
        request.collection_name,
        plan_set_payload,
        _optional(request, "points_selector"),
        request.payload,
        _optional(request, "key"),
    )


@rpc("/qdrant.Points/OverwritePayload")
def overwrite_payload(
    catalog: Catalog, request: ppb.SetPayloadPoints
) -> ppb.PointsOperationResponse:
    """Replace the whole payload of points."""
    _no_shard_key(request)
    return _run(
        catalog,
        request.collection_name,
        plan_set_payload,
        _optional(request, "points_selector"),
        request.payload,
        None,
        True,
    )


@rpc("/qdrant.Points/DeletePayload")
def delete_payload(
    catalog: Catalog, request: ppb.DeletePayloadPoints
) -> ppb.PointsOperationResponse:
    """Remove payload keys from points."""
    _no_shard_key(request)
    return _run(
        catalog,
        request.collection_name,
        plan_delete_payload,
        _optional(request, "points_selector"),
        request.keys,
    )


@rpc("/qdrant.Points/ClearPayload")
def clear_payload(catalog: Catalog, request: ppb.ClearPayloadPoints) -> ppb.PointsOperationResponse:
    """Remove the whole payload of points."""
    _no_shard_key(request)
    return _run(catalog, request.collection_name, plan_clear_payload, _optional(request, "points"))


# ------------------------------------------------------------------ batches


def plan_batch_operation(collection: Collection, operation: ppb.PointsUpdateOperation) -> Step:
    """One `PointsUpdateOperation` of an `UpdateBatch` as a checked step."""
    kind = operation.WhichOneof("operation")
    if kind is None:
        raise InvalidArgument("Operation is missing")
    body = getattr(operation, kind)
    if kind not in ("delete_deprecated", "clear_payload_deprecated"):
        _no_shard_key(body)
    if kind == "upsert":
        return plan_upsert(
            collection,
            body.points,
            _optional(body, "update_filter"),
            _optional(body, "update_mode"),
        )
    if kind == "delete_points":
        return plan_delete(collection, _optional(body, "points"))
    if kind == "delete_deprecated":
        return plan_delete(collection, body)
    if kind in ("set_payload", "overwrite_payload"):
        key = _optional(body, "key") if kind == "set_payload" else None
        selector = _optional(body, "points_selector")
        return plan_set_payload(
            collection, selector, body.payload, key, kind == "overwrite_payload"
        )
    if kind == "delete_payload":
        return plan_delete_payload(collection, _optional(body, "points_selector"), body.keys)
    if kind == "clear_payload":
        return plan_clear_payload(collection, _optional(body, "points"))
    if kind == "clear_payload_deprecated":
        return plan_clear_payload(collection, body)
    if kind == "update_vectors":
        return plan_update_vectors(collection, body.points, _optional(body, "update_filter"))
    if kind == "delete_vectors":
        return plan_delete_vectors(
            collection, _optional(body, "points_selector"), _optional(body, "vectors")
        )
    raise Unimplemented(f"update operation `{kind}` is not supported by the embedded engine")


@rpc("/qdrant.Points/UpdateBatch")
def update_batch(catalog: Catalog, request: ppb.UpdateBatchPoints) -> ppb.UpdateBatchResponse:
    """Apply operations in order; every one is checked before the first is applied."""
    start = time.perf_counter()
    collection = catalog.get(request.collection_name)
    steps = [plan_batch_operation(collection, op) for op in request.operations]
    response = ppb.UpdateBatchResponse()
    for operation_id in execute(catalog, collection, steps):
        response.result.add(operation_id=operation_id, status=ppb.Completed)
    response.time = time.perf_counter() - start
    return response


# ------------------------------------------------------------------ payload indexes

_FIELD_TYPES: dict[int, qe.PayloadSchemaType] = {
    ppb.FieldTypeKeyword: qe.PayloadSchemaType.Keyword,
    ppb.FieldTypeInteger: qe.PayloadSchemaType.Integer,
    ppb.FieldTypeFloat: qe.PayloadSchemaType.Float,
    ppb.FieldTypeGeo: qe.PayloadSchemaType.Geo,
    ppb.FieldTypeText: qe.PayloadSchemaType.Text,
    ppb.FieldTypeBool: qe.PayloadSchemaType.Bool,
    ppb.FieldTypeDatetime: qe.PayloadSchemaType.Datetime,
    ppb.FieldTypeUuid: qe.PayloadSchemaType.Uuid,
}
#: `PayloadIndexParams` oneof -> (field type it belongs to, engine class, plain attributes).
_INDEX_PARAMS: dict[str, tuple[int, Any, tuple[str, ...]]] = {
    "keyword_index_params": (
        ppb.FieldTypeKeyword,
        qe.KeywordIndexParams,
        ("is_tenant", "on_disk", "enable_hnsw", "nested"),
    ),
    "integer_index_params": (
        ppb.FieldTypeInteger,
        qe.IntegerIndexParams,
        ("lookup", "range", "is_principal", "on_disk", "enable_hnsw", "nested"),
    ),
    "float_index_params": (
        ppb.FieldTypeFloat,
        qe.FloatIndexParams,
        ("is_principal", "on_disk", "enable_hnsw", "nested"),
    ),
    "geo_index_params": (ppb.FieldTypeGeo, qe.GeoIndexParams, ("on_disk", "enable_hnsw", "nested")),
    "text_index_params": (
        ppb.FieldTypeText,
        qe.TextIndexParams,
        (
            "min_token_len",
            "max_token_len",
            "lowercase",
            "ascii_folding",
            "phrase_matching",
            "on_disk",
            "enable_hnsw",
            "nested",
        ),
    ),
    "bool_index_params": (
        ppb.FieldTypeBool,
        qe.BoolIndexParams,
        ("on_disk", "enable_hnsw", "nested"),
    ),
    "datetime_index_params": (
        ppb.FieldTypeDatetime,
        qe.DatetimeIndexParams,
        ("is_principal", "on_disk", "enable_hnsw", "nested"),
    ),
    "uuid_index_params": (
        ppb.FieldTypeUuid,
        qe.UuidIndexParams,
        ("is_tenant", "on_disk", "enable_hnsw", "nested"),
    ),
}
_TOKENIZERS = {
    cpb.Prefix: qe.TokenizerType.Prefix,
    cpb.Whitespace: qe.TokenizerType.Whitespace,
    cpb.Word: qe.TokenizerType.Word,
    cpb.Multilingual: qe.TokenizerType.Multilingual,
    cpb.Code: qe.TokenizerType.Code,
}


def _enum_members(enum: Any) -> dict[str, Any]:
    """An engine enum's members by lower-case name (`"english"` -> `Language.English`)."""
    return {n.lower(): getattr(enum, n) for n in dir(enum) if n[:1].isupper()}


_LANGUAGES = _enum_members(qe.Language)
_SNOWBALL = _enum_members(qe.SnowballLanguage)


def index_schema(field_type: ppb.FieldType.ValueType | None, params: Any) -> Any:
    """The engine schema of a CreateFieldIndex: a `PayloadSchemaType` or index params."""
    if field_type is None:
        if params is not None:
            raise InvalidArgument("field type is missing")
        raise Unimplemented(
            "creating a payload index without `field_type` (type inference) is not supported "
            "by the embedded engine; set field_type"
        )
    if field_type not in _FIELD_TYPES:
        raise InvalidArgument("cannot convert field_type")
    kind = params.WhichOneof("index_params") if params is not None else None
    if kind is None:
        return _FIELD_TYPES[field_type]
    expected, engine_class, attributes = _INDEX_PARAMS[kind]
    body = getattr(params, kind)
    if expected != field_type:
        raise InvalidArgument(
            f"field_type ({ppb.FieldType.Name(field_type)}) and field_index_params do not match"
        )
    kwargs = {name: getattr(body, name) for name in attributes if body.HasField(name)}
    if body.HasField("memory"):
        kwargs["memory"] = memory(body.memory)
    if kind == "keyword_index_params" and body.HasField("prefix"):
        kwargs["prefix"] = True
    if kind == "text_index_params":
        kwargs.update(_text_options(body))
    return engine_class(**kwargs)


def _text_options(body: cpb.TextIndexParams) -> dict[str, Any]:
    """Tokenizer, stopwords, stemmer and scoring of a text index."""
    if body.tokenizer not in _TOKENIZERS:
        raise InvalidArgument("unknown tokenizer type")
    options: dict[str, Any] = {"tokenizer": _TOKENIZERS[body.tokenizer]}
    if body.HasField("stopwords"):
        options["stopwords"] = _stopwords(body.stopwords)
    if body.HasField("stemmer"):
        options["stemmer"] = _stemmer(body.stemmer)
    if body.HasField("scoring"):
        options["scoring"] = qe.TextScoringParams(qe.TextScoringType.Bm25)
    return options


def _stopwords(stopwords: cpb.StopwordsSet) -> qe.StopwordsSet:
    languages = set()
    for name in stopwords.languages:
        if name.lower() not in _LANGUAGES:
            raise InvalidArgument(f"unknown language: {name}")
        languages.add(_LANGUAGES[name.lower()])
    return qe.StopwordsSet(languages=languages or None, custom=set(stopwords.custom) or None)


def _stemmer(stemmer: cpb.StemmingAlgorithm) -> qe.StemmingAlgorithm:
    kind = stemmer.WhichOneof("stemming_params")
    if kind == "disabled":
        return qe.DisabledStemmer()
    if kind == "snowball":
        language = stemmer.snowball.language
        if language.lower() not in _SNOWBALL:
            raise InvalidArgument(f"Language {language!r} not found.")
        return qe.SnowballParams(_SNOWBALL[language.lower()])
    raise InvalidArgument("a stemmer is empty; set snowball or disabled")


def _indexed_collection(catalog: Catalog, request: Any) -> Collection:
    """The collection of a field-index request whose field name is given."""
    collection = catalog.get(request.collection_name)
    if not request.field_name:
        raise InvalidArgument(
            "Validation error in body: [field_name: must be at least 1 characters]"
        )
    return collection


@rpc("/qdrant.Points/CreateFieldIndex")
def create_field_index(
    catalog: Catalog, request: ppb.CreateFieldIndexCollection
) -> ppb.PointsOperationResponse:
    """Index a payload field (type plus optional index params)."""
    start = time.perf_counter()
    collection = _indexed_collection(catalog, request)
    schema = index_schema(
        _optional(request, "field_type"), _optional(request, "field_index_params")
    )
    step = Step(qe.UpdateOperation.create_field_index(request.field_name, schema))
    return operation_response(start, execute(catalog, collection, [step])[0])


@rpc("/qdrant.Points/DeleteFieldIndex")
def delete_field_index(
    catalog: Catalog, request: ppb.DeleteFieldIndexCollection
) -> ppb.PointsOperationResponse:
    """Drop a payload index (a missing one is not an error, as in Qdrant)."""
    start = time.perf_counter()
    collection = _indexed_collection(catalog, request)
    step = Step(qe.UpdateOperation.delete_field_index(request.field_name))
    return operation_response(start, execute(catalog, collection, [step])[0])


# ------------------------------------------------------------------ vector names


@rpc("/qdrant.Points/CreateVectorName")
def create_vector_name(
    catalog: Catalog, request: ppb.CreateVectorNameRequest
) -> ppb.PointsOperationResponse:
    """Add a dense or sparse named vector to a collection (idempotent for the same config)."""
    start = time.perf_counter()
    collection = catalog.get(request.collection_name)
    name = request.vector_name
    validate_vector_name(name, "vector_name")
    kind = request.WhichOneof("vector_config")
    if kind is None:
        raise InvalidArgument("vector_config is required (dense_config or sparse_config)")
    config = cpb.CreateCollection()
    config.CopyFrom(collection.config)
    if kind == "dense_config":
        op = _add_dense(config, name, request.dense_config)
    else:
        op = _add_sparse(config, name, request.sparse_config)
    previous = collection.config
    collection.config = config
    catalog.save(collection)  # config first: a crash leaves a name a retry re-creates
    try:
        operation_id = execute(catalog, collection, [Step(op)])[0]
    except BaseException:
        collection.config = previous
        catalog.save(collection)
        raise
    return operation_response(start, operation_id)


def _add_dense(
    config: cpb.CreateCollection, name: str, dense: ppb.DenseVectorCreationConfig
) -> qe.UpdateOperation:
    validate_vector_size(dense.size, "dense_config")
    params = cpb.VectorParams(size=dense.size, distance=dense.distance)
    if dense.HasField("multivector_config"):
        params.multivector_config.CopyFrom(dense.multivector_config)
    if dense.HasField("datatype"):
        params.datatype = dense.datatype
    engine = (distance(dense.distance), multivector(dense), _datatype_of(dense))
    existing = dense_params(config).get(name)
    if existing is not None:
        if not _same_dense(existing, params):
            raise _wrong_input(f"Vector `{name}` already exists with a different configuration")
    elif name in config.sparse_vectors_config.map:
        raise _wrong_input(f"Vector `{name}` already exists as a sparse vector")
    else:
        _insert_dense(config, name, params)
    return qe.UpdateOperation.create_dense_vector(name, dense.size, *engine)


def _datatype_of(message: Any) -> qe.VectorStorageDatatype | None:
    return datatype(message.datatype) if message.HasField("datatype") else None


def _same_dense(existing: cpb.VectorParams, new: cpb.VectorParams) -> bool:
    def identity(p: cpb.VectorParams) -> tuple[Any, ...]:
        return (
            p.size,
            p.distance,
            p.HasField("multivector_config"),
            p.datatype if p.HasField("datatype") else None,
        )

    return identity(existing) == identity(new)


def _insert_dense(config: cpb.CreateCollection, name: str, params: cpb.VectorParams) -> None:
    """Add a named dense vector; a single unnamed vector becomes the map's `""` entry."""
    vectors = config.vectors_config
    if vectors.WhichOneof("config") == "params":
        unnamed = cpb.VectorParams()
        unnamed.CopyFrom(vectors.params)
        vectors.params_map.map[""].CopyFrom(unnamed)  # switches the oneof to params_map
    vectors.params_map.map[name].CopyFrom(params)


def _add_sparse(
    config: cpb.CreateCollection, name: str, sparse: ppb.SparseVectorCreationConfig
) -> qe.UpdateOperation:
    if name == "":
        raise InvalidArgument("Wrong input: Sparse vector name cannot be empty")
    params = cpb.SparseVectorParams()
    if sparse.HasField("modifier"):
        params.modifier = sparse.modifier
    if sparse.HasField("datatype"):
        params.index.datatype = sparse.datatype
    stored = config.sparse_vectors_config.map
    if name in stored:
        if stored[name].modifier != params.modifier or (
            stored[name].index.datatype != params.index.datatype
        ):
            raise _wrong_input(
                f"Sparse vector `{name}` already exists with a different configuration"
            )
    elif name in dense_params(config):
        raise _wrong_input(f"Vector `{name}` already exists as a dense vector")
    else:
        stored[name].CopyFrom(params)
    engine_modifier = modifier(sparse.modifier) if sparse.HasField("modifier") else None
    return qe.UpdateOperation.create_sparse_vector(name, engine_modifier, _datatype_of(sparse))


@rpc("/qdrant.Points/DeleteVectorName")
def delete_vector_name(
    catalog: Catalog, request: ppb.DeleteVectorNameRequest
) -> ppb.PointsOperationResponse:
    """Remove a named vector (and its data) from a collection; refuses the last one."""
    start = time.perf_counter()
    collection = catalog.get(request.collection_name)
    name = request.vector_name
    config = cpb.CreateCollection()
    config.CopyFrom(collection.config)
    _remove_vector(config, name)
    if not vector_specs(config):
        raise Unimplemented(
            f"deleting `{name}` would leave the collection without vectors, which the "
            "embedded engine does not support; delete the collection instead"
        )
    step = Step(qe.UpdateOperation.delete_vector_name(name))
    operation_id = execute(catalog, collection, [step])[0]  # engine first, then config
    collection.config = config
    catalog.save(collection)
    return operation_response(start, operation_id)


def _remove_vector(config: cpb.CreateCollection, name: str) -> None:
    vectors = config.vectors_config
    which = vectors.WhichOneof("config")
    if which == "params" and name == "":
        config.ClearField("vectors_config")
    elif which == "params_map" and name in vectors.params_map.map:
        del vectors.params_map.map[name]
    if name in config.sparse_vectors_config.map:
        del config.sparse_vectors_config.map[name]
