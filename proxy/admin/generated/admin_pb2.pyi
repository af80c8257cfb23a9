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
    __slots__ = ("name", "identity", "role", "collections", "fingerprint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    identity: str
    role: str
    collections: _containers.RepeatedScalarFieldContainer[str]
    fingerprint: str
    def __init__(self, name: _Optional[str] = ..., identity: _Optional[str] = ..., role: _Optional[str] = ..., collections: _Optional[_Iterable[str]] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListKeysReply(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyView]
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyView, _Mapping]]] = ...) -> None: ...
