from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("vecgate_version", "qdrant_api_version", "backend", "collections", "partitions", "models", "keys", "uptime_seconds", "deprecations")
    VECGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    QDRANT_API_VERSION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DEPRECATIONS_FIELD_NUMBER: _ClassVar[int]
    vecgate_version: str
    qdrant_api_version: str
    backend: str
    collections: int
    partitions: int
    models: int
    keys: int
    uptime_seconds: float
    deprecations: _containers.RepeatedCompositeFieldContainer[ModelView]
    def __init__(self, vecgate_version: _Optional[str] = ..., qdrant_api_version: _Optional[str] = ..., backend: _Optional[str] = ..., collections: _Optional[int] = ..., partitions: _Optional[int] = ..., models: _Optional[int] = ..., keys: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., deprecations: _Optional[_Iterable[_Union[ModelView, _Mapping]]] = ...) -> None: ...

class VectorView(_message.Message):
    __slots__ = ("name", "model", "version", "dimension", "distance", "sparse", "multivector")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    SPARSE_FIELD_NUMBER: _ClassVar[int]
    MULTIVECTOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    version: str
    dimension: int
    distance: str
    sparse: bool
    multivector: bool
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., sparse: _Optional[bool] = ..., multivector: _Optional[bool] = ...) -> None: ...

class VersionView(_message.Message):
    __slots__ = ("identity", "vectors", "points", "state", "created", "partition")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    identity: str
    vectors: _containers.RepeatedCompositeFieldContainer[VectorView]
    points: int
    state: str
    created: str
    partition: str
    def __init__(self, identity: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[VectorView, _Mapping]]] = ..., points: _Optional[int] = ..., state: _Optional[str] = ..., created: _Optional[str] = ..., partition: _Optional[str] = ...) -> None: ...

class CollectionView(_message.Message):
    __slots__ = ("name", "active", "versions", "aliases")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    name: str
    active: str
    versions: _containers.RepeatedCompositeFieldContainer[VersionView]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., active: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[VersionView, _Mapping]]] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsReply(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionView]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionView, _Mapping]]] = ...) -> None: ...

class DescribeCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ModelView(_message.Message):
    __slots__ = ("name", "version", "dimension", "distance", "digest", "sunset", "notes", "source", "deprecation", "days_to_sunset", "collections")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SUNSET_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DEPRECATION_FIELD_NUMBER: _ClassVar[int]
    DAYS_TO_SUNSET_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    dimension: int
    distance: str
    digest: str
    sunset: str
    notes: str
    source: str
    deprecation: str
    days_to_sunset: int
    collections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., digest: _Optional[str] = ..., sunset: _Optional[str] = ..., notes: _Optional[str] = ..., source: _Optional[str] = ..., deprecation: _Optional[str] = ..., days_to_sunset: _Optional[int] = ..., collections: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsReply(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelView]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelView, _Mapping]]] = ...) -> None: ...

class RegisterModelRequest(_message.Message):
    __slots__ = ("model", "dimension", "distance", "digest", "sunset", "notes")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SUNSET_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    model: str
    dimension: int
    distance: str
    digest: str
    sunset: str
    notes: str
    def __init__(self, model: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ..., digest: _Optional[str] = ..., sunset: _Optional[str] = ..., notes: _Optional[str] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ("model", "digest", "sunset", "notes")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SUNSET_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    model: str
    digest: str
    sunset: str
    notes: str
    def __init__(self, model: _Optional[str] = ..., digest: _Optional[str] = ..., sunset: _Optional[str] = ..., notes: _Optional[str] = ...) -> None: ...

class ExplainRequest(_message.Message):
    __slots__ = ("collection", "identity", "api_key", "operation")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    identity: str
    api_key: str
    operation: str
    def __init__(self, collection: _Optional[str] = ..., identity: _Optional[str] = ..., api_key: _Optional[str] = ..., operation: _Optional[str] = ...) -> None: ...

class ExplainReply(_message.Message):
    __slots__ = ("allowed", "operation", "collection", "identity", "identity_source", "partition", "version", "status", "message", "reason", "warnings")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    operation: str
    collection: str
    identity: str
    identity_source: str
    partition: str
    version: str
    status: str
    message: str
    reason: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, allowed: _Optional[bool] = ..., operation: _Optional[str] = ..., collection: _Optional[str] = ..., identity: _Optional[str] = ..., identity_source: _Optional[str] = ..., partition: _Optional[str] = ..., version: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class KeyView(_message.Message):
    __slots__ = ("name", "identity", "role", "collections", "fingerprint", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    identity: str
    role: str
    collections: _containers.RepeatedScalarFieldContainer[str]
    fingerprint: str
    source: str
    def __init__(self, name: _Optional[str] = ..., identity: _Optional[str] = ..., role: _Optional[str] = ..., collections: _Optional[_Iterable[str]] = ..., fingerprint: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class AddKeyRequest(_message.Message):
    __slots__ = ("name", "sha256", "identity", "role", "collections")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    sha256: str
    identity: str
    role: str
    collections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., sha256: _Optional[str] = ..., identity: _Optional[str] = ..., role: _Optional[str] = ..., collections: _Optional[_Iterable[str]] = ...) -> None: ...

class RemoveKeyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKeysReply(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyView]
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyView, _Mapping]]] = ...) -> None: ...

class StartMigrationRequest(_message.Message):
    __slots__ = ("collection", "to", "dimension", "distance")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    to: str
    dimension: int
    distance: str
    def __init__(self, collection: _Optional[str] = ..., to: _Optional[str] = ..., dimension: _Optional[int] = ..., distance: _Optional[str] = ...) -> None: ...

class GetMigrationRequest(_message.Message):
    __slots__ = ("collection", "ledger")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ledger: bool
    def __init__(self, collection: _Optional[str] = ..., ledger: _Optional[bool] = ...) -> None: ...

class Ledger(_message.Message):
    __slots__ = ("source_points", "covered", "missing", "percent", "rate_per_second", "eta_seconds", "target_points")
    SOURCE_POINTS_FIELD_NUMBER: _ClassVar[int]
    COVERED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    RATE_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ETA_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TARGET_POINTS_FIELD_NUMBER: _ClassVar[int]
    source_points: int
    covered: int
    missing: int
    percent: float
    rate_per_second: float
    eta_seconds: float
    target_points: int
    def __init__(self, source_points: _Optional[int] = ..., covered: _Optional[int] = ..., missing: _Optional[int] = ..., percent: _Optional[float] = ..., rate_per_second: _Optional[float] = ..., eta_seconds: _Optional[float] = ..., target_points: _Optional[int] = ...) -> None: ...

class MigrationView(_message.Message):
    __slots__ = ("collection", "source", "target", "state", "active", "started", "ledger", "last_verify")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    LEDGER_FIELD_NUMBER: _ClassVar[int]
    LAST_VERIFY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    source: str
    target: str
    state: str
    active: str
    started: str
    ledger: Ledger
    last_verify: VerifyReport
    def __init__(self, collection: _Optional[str] = ..., source: _Optional[str] = ..., target: _Optional[str] = ..., state: _Optional[str] = ..., active: _Optional[str] = ..., started: _Optional[str] = ..., ledger: _Optional[_Union[Ledger, _Mapping]] = ..., last_verify: _Optional[_Union[VerifyReport, _Mapping]] = ...) -> None: ...

class BacklogRequest(_message.Message):
    __slots__ = ("collection", "page_size", "cursor", "payload_fields", "as_points")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELDS_FIELD_NUMBER: _ClassVar[int]
    AS_POINTS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    page_size: int
    cursor: str
    payload_fields: _containers.RepeatedScalarFieldContainer[str]
    as_points: bool
    def __init__(self, collection: _Optional[str] = ..., page_size: _Optional[int] = ..., cursor: _Optional[str] = ..., payload_fields: _Optional[_Iterable[str]] = ..., as_points: _Optional[bool] = ...) -> None: ...

class BacklogPoint(_message.Message):
    __slots__ = ("id", "payload_json", "point")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    id: str
    payload_json: str
    point: bytes
    def __init__(self, id: _Optional[str] = ..., payload_json: _Optional[str] = ..., point: _Optional[bytes] = ...) -> None: ...

class BacklogPage(_message.Message):
    __slots__ = ("points", "cursor", "scanned")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    SCANNED_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[BacklogPoint]
    cursor: str
    scanned: int
    def __init__(self, points: _Optional[_Iterable[_Union[BacklogPoint, _Mapping]]] = ..., cursor: _Optional[str] = ..., scanned: _Optional[int] = ...) -> None: ...

class GoldenQuery(_message.Message):
    __slots__ = ("source_vector", "target_vector", "relevant_ids")
    SOURCE_VECTOR_FIELD_NUMBER: _ClassVar[int]
    TARGET_VECTOR_FIELD_NUMBER: _ClassVar[int]
    RELEVANT_IDS_FIELD_NUMBER: _ClassVar[int]
    source_vector: _containers.RepeatedScalarFieldContainer[float]
    target_vector: _containers.RepeatedScalarFieldContainer[float]
    relevant_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source_vector: _Optional[_Iterable[float]] = ..., target_vector: _Optional[_Iterable[float]] = ..., relevant_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("collection", "k", "queries")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    k: int
    queries: _containers.RepeatedCompositeFieldContainer[GoldenQuery]
    def __init__(self, collection: _Optional[str] = ..., k: _Optional[int] = ..., queries: _Optional[_Iterable[_Union[GoldenQuery, _Mapping]]] = ...) -> None: ...

class VerifyReport(_message.Message):
    __slots__ = ("at", "k", "queries", "overlap", "source_recall", "target_recall", "labelled", "passed")
    AT_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_RECALL_FIELD_NUMBER: _ClassVar[int]
    TARGET_RECALL_FIELD_NUMBER: _ClassVar[int]
    LABELLED_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    at: str
    k: int
    queries: int
    overlap: float
    source_recall: float
    target_recall: float
    labelled: int
    passed: bool
    def __init__(self, at: _Optional[str] = ..., k: _Optional[int] = ..., queries: _Optional[int] = ..., overlap: _Optional[float] = ..., source_recall: _Optional[float] = ..., target_recall: _Optional[float] = ..., labelled: _Optional[int] = ..., passed: _Optional[bool] = ...) -> None: ...

class CutoverRequest(_message.Message):
    __slots__ = ("collection", "force")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    force: bool
    def __init__(self, collection: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class RetireRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class DropVersionRequest(_message.Message):
    __slots__ = ("collection", "confirm")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    collection: str
    confirm: bool
    def __init__(self, collection: _Optional[str] = ..., confirm: _Optional[bool] = ...) -> None: ...

class MigrationHistoryRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class MigrationEvent(_message.Message):
    __slots__ = ("at", "collection", "step", "by", "detail")
    AT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    BY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    at: str
    collection: str
    step: str
    by: str
    detail: str
    def __init__(self, at: _Optional[str] = ..., collection: _Optional[str] = ..., step: _Optional[str] = ..., by: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class MigrationHistoryReply(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[MigrationEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[MigrationEvent, _Mapping]]] = ...) -> None: ...

class InspectRequest(_message.Message):
    __slots__ = ("refused_only", "collection", "model", "trace_id", "follow", "limit")
    REFUSED_ONLY_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    refused_only: bool
    collection: str
    model: str
    trace_id: str
    follow: bool
    limit: int
    def __init__(self, refused_only: _Optional[bool] = ..., collection: _Optional[str] = ..., model: _Optional[str] = ..., trace_id: _Optional[str] = ..., follow: _Optional[bool] = ..., limit: _Optional[int] = ...) -> None: ...

class RequestRecord(_message.Message):
    __slots__ = ("seq", "time", "method", "collection", "logical", "partition", "identity", "identity_source", "key", "decision", "reason", "status", "message", "latency_ms", "policy_ms", "backend_ms", "trace_id", "span_id", "sampled", "points", "vectors", "dimension", "warnings", "bridge")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    POLICY_MS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_MS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: str
    method: str
    collection: str
    logical: str
    partition: str
    identity: str
    identity_source: str
    key: str
    decision: str
    reason: str
    status: str
    message: str
    latency_ms: float
    policy_ms: float
    backend_ms: float
    trace_id: str
    span_id: str
    sampled: bool
    points: int
    vectors: int
    dimension: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    bridge: str
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[str] = ..., method: _Optional[str] = ..., collection: _Optional[str] = ..., logical: _Optional[str] = ..., partition: _Optional[str] = ..., identity: _Optional[str] = ..., identity_source: _Optional[str] = ..., key: _Optional[str] = ..., decision: _Optional[str] = ..., reason: _Optional[str] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., latency_ms: _Optional[float] = ..., policy_ms: _Optional[float] = ..., backend_ms: _Optional[float] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., sampled: _Optional[bool] = ..., points: _Optional[int] = ..., vectors: _Optional[int] = ..., dimension: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ..., bridge: _Optional[str] = ...) -> None: ...

class Anchor(_message.Message):
    __slots__ = ("text", "vector")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    text: str
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, text: _Optional[str] = ..., vector: _Optional[_Iterable[float]] = ...) -> None: ...

class RegisterFingerprintRequest(_message.Message):
    __slots__ = ("model", "anchors", "digest", "batch_size", "how", "replace")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ANCHORS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    model: str
    anchors: _containers.RepeatedCompositeFieldContainer[Anchor]
    digest: str
    batch_size: int
    how: str
    replace: bool
    def __init__(self, model: _Optional[str] = ..., anchors: _Optional[_Iterable[_Union[Anchor, _Mapping]]] = ..., digest: _Optional[str] = ..., batch_size: _Optional[int] = ..., how: _Optional[str] = ..., replace: _Optional[bool] = ...) -> None: ...

class GetFingerprintRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class FingerprintView(_message.Message):
    __slots__ = ("model", "texts", "dimension", "digest", "batch_size", "how", "state", "suspect_reason", "suspect_since", "registered", "last_check", "last_passed", "threshold", "checks", "history")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUSPECT_REASON_FIELD_NUMBER: _ClassVar[int]
    SUSPECT_SINCE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECK_FIELD_NUMBER: _ClassVar[int]
    LAST_PASSED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    model: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    dimension: int
    digest: str
    batch_size: int
    how: str
    state: str
    suspect_reason: str
    suspect_since: str
    registered: str
    last_check: str
    last_passed: bool
    threshold: float
    checks: int
    history: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ..., dimension: _Optional[int] = ..., digest: _Optional[str] = ..., batch_size: _Optional[int] = ..., how: _Optional[str] = ..., state: _Optional[str] = ..., suspect_reason: _Optional[str] = ..., suspect_since: _Optional[str] = ..., registered: _Optional[str] = ..., last_check: _Optional[str] = ..., last_passed: _Optional[bool] = ..., threshold: _Optional[float] = ..., checks: _Optional[int] = ..., history: _Optional[_Iterable[str]] = ...) -> None: ...

class AnchorVector(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class VerifyFingerprintRequest(_message.Message):
    __slots__ = ("model", "vectors")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    model: str
    vectors: _containers.RepeatedCompositeFieldContainer[AnchorVector]
    def __init__(self, model: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[AnchorVector, _Mapping]]] = ...) -> None: ...

class FingerprintReport(_message.Message):
    __slots__ = ("model", "passed", "threshold", "min_cosine", "mean_cosine", "cosines", "below", "state", "message")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MIN_COSINE_FIELD_NUMBER: _ClassVar[int]
    MEAN_COSINE_FIELD_NUMBER: _ClassVar[int]
    COSINES_FIELD_NUMBER: _ClassVar[int]
    BELOW_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    passed: bool
    threshold: float
    min_cosine: float
    mean_cosine: float
    cosines: _containers.RepeatedScalarFieldContainer[float]
    below: _containers.RepeatedScalarFieldContainer[str]
    state: str
    message: str
    def __init__(self, model: _Optional[str] = ..., passed: _Optional[bool] = ..., threshold: _Optional[float] = ..., min_cosine: _Optional[float] = ..., mean_cosine: _Optional[float] = ..., cosines: _Optional[_Iterable[float]] = ..., below: _Optional[_Iterable[str]] = ..., state: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ClearSuspectRequest(_message.Message):
    __slots__ = ("model", "note")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    model: str
    note: str
    def __init__(self, model: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class GetDriftRequest(_message.Message):
    __slots__ = ("collection", "detail")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    collection: str
    detail: bool
    def __init__(self, collection: _Optional[str] = ..., detail: _Optional[bool] = ...) -> None: ...

class DriftScores(_message.Message):
    __slots__ = ("at", "vectors", "centroid_distance", "threshold", "mmd", "mmd_p_value", "drifted_share", "domain_auc", "alarm")
    AT_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    CENTROID_DISTANCE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MMD_FIELD_NUMBER: _ClassVar[int]
    MMD_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    DRIFTED_SHARE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_AUC_FIELD_NUMBER: _ClassVar[int]
    ALARM_FIELD_NUMBER: _ClassVar[int]
    at: str
    vectors: int
    centroid_distance: float
    threshold: float
    mmd: float
    mmd_p_value: float
    drifted_share: float
    domain_auc: float
    alarm: bool
    def __init__(self, at: _Optional[str] = ..., vectors: _Optional[int] = ..., centroid_distance: _Optional[float] = ..., threshold: _Optional[float] = ..., mmd: _Optional[float] = ..., mmd_p_value: _Optional[float] = ..., drifted_share: _Optional[float] = ..., domain_auc: _Optional[float] = ..., alarm: _Optional[bool] = ...) -> None: ...

class PartitionDrift(_message.Message):
    __slots__ = ("collection", "version", "partition", "vectors", "reference_vectors", "recent_vectors", "ready", "latest", "verdict", "evidence", "next_step", "reupserts_checked", "reupserts_diverged", "norm_mean", "norm_std", "norm_quantiles", "memory_bytes", "skipped", "fingerprint", "history", "reference_cosines", "recent_cosines", "reference_size", "window")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    RECENT_VECTORS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    NEXT_STEP_FIELD_NUMBER: _ClassVar[int]
    REUPSERTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    REUPSERTS_DIVERGED_FIELD_NUMBER: _ClassVar[int]
    NORM_MEAN_FIELD_NUMBER: _ClassVar[int]
    NORM_STD_FIELD_NUMBER: _ClassVar[int]
    NORM_QUANTILES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_COSINES_FIELD_NUMBER: _ClassVar[int]
    RECENT_COSINES_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_SIZE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    collection: str
    version: str
    partition: str
    vectors: int
    reference_vectors: int
    recent_vectors: int
    ready: bool
    latest: DriftScores
    verdict: str
    evidence: str
    next_step: str
    reupserts_checked: int
    reupserts_diverged: int
    norm_mean: float
    norm_std: float
    norm_quantiles: _containers.RepeatedScalarFieldContainer[float]
    memory_bytes: int
    skipped: int
    fingerprint: str
    history: _containers.RepeatedCompositeFieldContainer[DriftScores]
    reference_cosines: _containers.RepeatedScalarFieldContainer[float]
    recent_cosines: _containers.RepeatedScalarFieldContainer[float]
    reference_size: int
    window: int
    def __init__(self, collection: _Optional[str] = ..., version: _Optional[str] = ..., partition: _Optional[str] = ..., vectors: _Optional[int] = ..., reference_vectors: _Optional[int] = ..., recent_vectors: _Optional[int] = ..., ready: _Optional[bool] = ..., latest: _Optional[_Union[DriftScores, _Mapping]] = ..., verdict: _Optional[str] = ..., evidence: _Optional[str] = ..., next_step: _Optional[str] = ..., reupserts_checked: _Optional[int] = ..., reupserts_diverged: _Optional[int] = ..., norm_mean: _Optional[float] = ..., norm_std: _Optional[float] = ..., norm_quantiles: _Optional[_Iterable[float]] = ..., memory_bytes: _Optional[int] = ..., skipped: _Optional[int] = ..., fingerprint: _Optional[str] = ..., history: _Optional[_Iterable[_Union[DriftScores, _Mapping]]] = ..., reference_cosines: _Optional[_Iterable[float]] = ..., recent_cosines: _Optional[_Iterable[float]] = ..., reference_size: _Optional[int] = ..., window: _Optional[int] = ...) -> None: ...

class DriftReply(_message.Message):
    __slots__ = ("partitions", "enabled", "offered", "dropped", "queued", "unwatched", "skipped")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    UNWATCHED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionDrift]
    enabled: bool
    offered: int
    dropped: int
    queued: int
    unwatched: int
    skipped: int
    def __init__(self, partitions: _Optional[_Iterable[_Union[PartitionDrift, _Mapping]]] = ..., enabled: _Optional[bool] = ..., offered: _Optional[int] = ..., dropped: _Optional[int] = ..., queued: _Optional[int] = ..., unwatched: _Optional[int] = ..., skipped: _Optional[int] = ...) -> None: ...

class PinDriftReferenceRequest(_message.Message):
    __slots__ = ("collection", "version")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    version: str
    def __init__(self, collection: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class BridgeQuery(_message.Message):
    __slots__ = ("from_vector", "to_vector", "relevant_ids")
    FROM_VECTOR_FIELD_NUMBER: _ClassVar[int]
    TO_VECTOR_FIELD_NUMBER: _ClassVar[int]
    RELEVANT_IDS_FIELD_NUMBER: _ClassVar[int]
    from_vector: _containers.RepeatedScalarFieldContainer[float]
    to_vector: _containers.RepeatedScalarFieldContainer[float]
    relevant_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, from_vector: _Optional[_Iterable[float]] = ..., to_vector: _Optional[_Iterable[float]] = ..., relevant_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainBridgeRequest(_message.Message):
    __slots__ = ("collection", "from_version", "to_version", "holdout", "fit_share", "seed", "k", "queries")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    FIT_SHARE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    from_version: str
    to_version: str
    holdout: float
    fit_share: float
    seed: int
    k: int
    queries: _containers.RepeatedCompositeFieldContainer[BridgeQuery]
    def __init__(self, collection: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ..., holdout: _Optional[float] = ..., fit_share: _Optional[float] = ..., seed: _Optional[int] = ..., k: _Optional[int] = ..., queries: _Optional[_Iterable[_Union[BridgeQuery, _Mapping]]] = ...) -> None: ...

class BridgeFigures(_message.Message):
    __slots__ = ("overlap", "recall")
    OVERLAP_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    overlap: float
    recall: float
    def __init__(self, overlap: _Optional[float] = ..., recall: _Optional[float] = ...) -> None: ...

class BridgeSet(_message.Message):
    __slots__ = ("name", "queries", "labelled", "reference_recall", "comparable", "no_map", "maps")
    class MapsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: BridgeFigures
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[BridgeFigures, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    LABELLED_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_RECALL_FIELD_NUMBER: _ClassVar[int]
    COMPARABLE_FIELD_NUMBER: _ClassVar[int]
    NO_MAP_FIELD_NUMBER: _ClassVar[int]
    MAPS_FIELD_NUMBER: _ClassVar[int]
    name: str
    queries: int
    labelled: int
    reference_recall: float
    comparable: bool
    no_map: BridgeFigures
    maps: _containers.MessageMap[str, BridgeFigures]
    def __init__(self, name: _Optional[str] = ..., queries: _Optional[int] = ..., labelled: _Optional[int] = ..., reference_recall: _Optional[float] = ..., comparable: _Optional[bool] = ..., no_map: _Optional[_Union[BridgeFigures, _Mapping]] = ..., maps: _Optional[_Mapping[str, BridgeFigures]] = ...) -> None: ...

class BridgeView(_message.Message):
    __slots__ = ("collection", "from_version", "to_version", "version", "kind", "enabled", "state", "dimension_in", "dimension_out", "pairs", "fit_pairs", "held_out", "k", "sets", "passed", "floor_reasons", "trained_at", "trained_by", "enabled_at", "min_recall_ratio", "rank")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_IN_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_OUT_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    FIT_PAIRS_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FLOOR_REASONS_FIELD_NUMBER: _ClassVar[int]
    TRAINED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAINED_BY_FIELD_NUMBER: _ClassVar[int]
    ENABLED_AT_FIELD_NUMBER: _ClassVar[int]
    MIN_RECALL_RATIO_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    collection: str
    from_version: str
    to_version: str
    version: int
    kind: str
    enabled: bool
    state: str
    dimension_in: int
    dimension_out: int
    pairs: int
    fit_pairs: int
    held_out: int
    k: int
    sets: _containers.RepeatedCompositeFieldContainer[BridgeSet]
    passed: bool
    floor_reasons: _containers.RepeatedScalarFieldContainer[str]
    trained_at: str
    trained_by: str
    enabled_at: str
    min_recall_ratio: float
    rank: int
    def __init__(self, collection: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ..., version: _Optional[int] = ..., kind: _Optional[str] = ..., enabled: _Optional[bool] = ..., state: _Optional[str] = ..., dimension_in: _Optional[int] = ..., dimension_out: _Optional[int] = ..., pairs: _Optional[int] = ..., fit_pairs: _Optional[int] = ..., held_out: _Optional[int] = ..., k: _Optional[int] = ..., sets: _Optional[_Iterable[_Union[BridgeSet, _Mapping]]] = ..., passed: _Optional[bool] = ..., floor_reasons: _Optional[_Iterable[str]] = ..., trained_at: _Optional[str] = ..., trained_by: _Optional[str] = ..., enabled_at: _Optional[str] = ..., min_recall_ratio: _Optional[float] = ..., rank: _Optional[int] = ...) -> None: ...

class EnableBridgeRequest(_message.Message):
    __slots__ = ("collection", "from_version", "to_version")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    from_version: str
    to_version: str
    def __init__(self, collection: _Optional[str] = ..., from_version: _Optional[str] = ..., to_version: _Optional[str] = ...) -> None: ...

class DisableBridgeRequest(_message.Message):
    __slots__ = ("collection", "from_version")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    from_version: str
    def __init__(self, collection: _Optional[str] = ..., from_version: _Optional[str] = ...) -> None: ...

class ListBridgesRequest(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class ListBridgesReply(_message.Message):
    __slots__ = ("bridges",)
    BRIDGES_FIELD_NUMBER: _ClassVar[int]
    bridges: _containers.RepeatedCompositeFieldContainer[BridgeView]
    def __init__(self, bridges: _Optional[_Iterable[_Union[BridgeView, _Mapping]]] = ...) -> None: ...

class ExportBridgeRequest(_message.Message):
    __slots__ = ("collection", "from_version")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    from_version: str
    def __init__(self, collection: _Optional[str] = ..., from_version: _Optional[str] = ...) -> None: ...

class BridgeMap(_message.Message):
    __slots__ = ("version", "kind", "dimension_in", "dimension_out", "weights", "bias", "checksum", "rank")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_IN_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_OUT_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    version: int
    kind: str
    dimension_in: int
    dimension_out: int
    weights: bytes
    bias: bytes
    checksum: str
    rank: int
    def __init__(self, version: _Optional[int] = ..., kind: _Optional[str] = ..., dimension_in: _Optional[int] = ..., dimension_out: _Optional[int] = ..., weights: _Optional[bytes] = ..., bias: _Optional[bytes] = ..., checksum: _Optional[str] = ..., rank: _Optional[int] = ...) -> None: ...
