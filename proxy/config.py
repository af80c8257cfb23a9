"""vecgate's configuration: a TOML file, then flags; validated once, at start.

    config = load_config(Path("vecgate.toml"), overrides={"server": {"grpc_port": 7334}})

An unknown key, an unpinned version, a duplicate key binding or a bad address stops
start-up with a message naming the entry (`ConfigError`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proxy.errors import InvalidArgument
from proxy.identity import DEFAULT_MUTABLE_TAGS, Identity, PinPolicy


class ConfigError(Exception):
    """The configuration is invalid; vecgate does not start."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    """Where vecgate listens and keeps its data."""

    host: str = "127.0.0.1"
    grpc_port: int = Field(default=6334, ge=0, le=65535)
    http_port: int = Field(default=6333, ge=0, le=65535)
    data_dir: Path = Path("./vecgate-data")
    max_message_mb: int = Field(default=64, ge=1, le=2047)
    log_requests: bool = True
    #: Ask each client to reconnect after this long (0: never), so that replicas added
    #: behind a load balancer get their share of long-lived gRPC connections.
    max_connection_age_seconds: float = Field(default=0.0, ge=0)
    #: How often the backend's health is checked; health service `vecgate.ready` (and the
    #: Qdrant service names) follow it within two intervals (seconds).
    probe_seconds: float = Field(default=2.0, ge=0.1, le=60)
    #: Once a reader or writer key exists, requests without a key are refused
    #: (UNAUTHENTICATED); true accepts them anyway, without role or scope limits.
    allow_anonymous: bool = False
    #: TLS on both ports: this certificate chain and key (PEM). Off when unset.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Mutual TLS: demand a client certificate signed by this CA (PEM).
    client_ca: Path | None = None

    @model_validator(mode="after")
    def _tls_complete(self) -> ServerConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("server.tls_cert and server.tls_key go together: set both or neither")
        if self.client_ca is not None and self.tls_cert is None:
            raise ValueError("server.client_ca (mutual TLS) needs server.tls_cert and tls_key")
        for path in (self.tls_cert, self.tls_key, self.client_ca):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} does not exist or is not a file")
        return self

    @field_validator("host")
    @classmethod
    def _host_is_an_address(cls, host: str) -> str:
        if host == "localhost":
            return host
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"{host!r} is not an IP address; use e.g. 127.0.0.1, 0.0.0.0 or ::"
            ) from None
        return host


class BackendConfig(_Strict):
    """Which vector database stands behind vecgate, and how vecgate talks to it."""

    #: ``embedded`` (Qdrant's engine in-process), a Qdrant server's gRPC address
    #: (``qdrant://host:6334``, ``qdrants://host:6334`` for TLS), a Milvus server
    #: (``milvus://host:19530``) or milvus-lite started by vecgate (``milvus-lite:PATH``).
    url: str = "embedded"
    #: Embedded engine: fsync every write (survives a machine crash, +3-4 ms per write).
    #: Without it an acknowledged write survives a crash of the vecgate process.
    sync_writes: bool = False
    #: Remote Qdrant: the api-key vecgate sends upstream (better: VECGATE_BACKEND_API_KEY);
    #: Milvus: the token (``user:password`` or an API key).
    api_key: str | None = None
    #: Remote Qdrant over TLS: CA bundle to trust (default: the system's roots).
    ca_file: Path | None = None
    #: Remote Qdrant: largest gRPC message sent to or accepted from the backend.
    max_message_mb: int = Field(default=64, ge=1, le=2047)
    #: Remote Qdrant: long-lived connections, used in turn.
    channels: int = Field(default=2, ge=1, le=64)
    #: Deadline of a backend call when the client set none (seconds).
    timeout_seconds: float = Field(default=60.0, gt=0)
    #: Remote Qdrant: how often routing state is re-read, so that replicas agree (seconds).
    refresh_seconds: float = Field(default=1.0, ge=0.1, le=60)
    #: Milvus: consistency level of searches and reads. Strong: a write acknowledged to a
    #: client is visible to its next search (read-your-writes); Bounded is Milvus's default.
    consistency: Literal["Strong", "Bounded", "Session", "Eventually"] = "Strong"
    #: milvus-lite only: flush a collection in the background after this many written
    #: rows (it searches unflushed rows slowly, in Python); 0: never.
    milvus_lite_flush_rows: int = Field(default=1000, ge=0)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url == "embedded" or parse_milvus_url(url) is not None:
            return url
        parse_backend_url(url)  # raises ValueError naming what is accepted
        return url

    @property
    def remote(self) -> RemoteAddress | None:
        """The remote Qdrant address, or None for the embedded engine and Milvus."""
        if self.url == "embedded" or self.milvus is not None:
            return None
        return parse_backend_url(self.url)

    @property
    def milvus(self) -> MilvusTarget | None:
        """The Milvus server or milvus-lite directory, or None for the other backends."""
        return parse_milvus_url(self.url)


@dataclass(frozen=True, slots=True)
class RemoteAddress:
    """A remote Qdrant's gRPC address."""

    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        """``host:port`` as gRPC dials it."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


BACKEND_SCHEMES = {"qdrant": False, "qdrants": True}
QDRANT_GRPC_PORT = 6334
MILVUS_PORT = 19530
MILVUS_LITE_PREFIX = "milvus-lite:"


@dataclass(frozen=True, slots=True)
class MilvusTarget:
    """A Milvus server (``uri``) or a milvus-lite data directory vecgate starts (``lite``)."""

    uri: str | None = None
    lite: Path | None = None


def parse_milvus_url(url: str) -> MilvusTarget | None:
    """``milvus://host:port`` or ``milvus-lite:PATH``; None for other schemes."""
    if url.startswith(MILVUS_LITE_PREFIX):
        path = url.removeprefix(MILVUS_LITE_PREFIX)
        if not path:
            raise ValueError(f"backend {url!r} names no directory; use 'milvus-lite:PATH'")
        return MilvusTarget(lite=Path(path))
    parts = urlsplit(url)
    if parts.scheme != "milvus":
        return None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(f"backend {url!r} is not a Milvus address; use 'milvus://HOST:PORT'")
    try:
        port = parts.port or MILVUS_PORT
    except ValueError:
        raise ValueError(f"backend {url!r} has a bad port; use 'milvus://HOST:PORT'") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return MilvusTarget(uri=f"http://{host}:{port}")


def parse_backend_url(url: str) -> RemoteAddress:
    """``qdrant://host:port`` (or ``qdrants://`` for TLS) as an address; ValueError otherwise."""
    accepted = (
        "use 'embedded', 'qdrant://HOST:PORT', 'qdrants://HOST:PORT' (TLS), "
        "'milvus://HOST:PORT' or 'milvus-lite:PATH'"
    )
    parts = urlsplit(url)
    if parts.scheme not in BACKEND_SCHEMES or not parts.hostname:
        raise ValueError(f"backend {url!r} is not a backend address; {accepted}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"backend {url!r} has a path, query or user part; {accepted}")
    try:
        port = parts.port or QDRANT_GRPC_PORT
    except ValueError:
        raise ValueError(f"backend {url!r} has a bad port; {accepted}") from None
    return RemoteAddress(parts.hostname, port, BACKEND_SCHEMES[parts.scheme])


class TagConfig(_Strict):
    """Payload keys vecgate writes on every point."""

    model_key: str = Field(default="embedding_model", min_length=1)
    version_key: str = Field(default="embedding_version", min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> TagConfig:
        if self.model_key == self.version_key:
            raise ValueError("tags.model_key and tags.version_key must differ")
        return self


class PinningConfig(_Strict):
    """Versions that are refused because they can change under the same name."""

    mutable_tags: tuple[str, ...] = DEFAULT_MUTABLE_TAGS


class IdentityConfig(_Strict):
    """Identities for clients that cannot send `x-embedding-model`."""

    default: str | None = None
    collections: dict[str, str] = Field(default_factory=dict)


Role = Literal["reader", "writer", "admin"]


class KeyConfig(_Strict):
    """An API key (stored as its SHA-256): its identity, role and collection scope.

    Roles: ``reader`` reads and searches; ``writer`` also writes and manages
    collections; ``admin`` also calls the admin API. ``collections`` limits the
    logical collections the key reaches (``["*"]``: all).
    """

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    identity: str | None = None
    role: Role = "writer"
    collections: tuple[str, ...] = ("*",)


Distance = Literal["Cosine", "Euclid", "Dot", "Manhattan"]


class ModelConfig(_Strict):
    """A model version known to vecgate: its shape, provenance and sunset date."""

    name: str = Field(min_length=3, description="name@version, pinned")
    dimension: int | None = Field(default=None, ge=1, le=65536)
    distance: Distance | None = None
    digest: str | None = None
    sunset: date | None = None
    notes: str = ""


class MigrationConfig(_Strict):
    """What a cut-over demands of a migration's last verify."""

    min_overlap: float = Field(default=0.0, ge=0.0, le=1.0)
    require_verify: bool = False


class BridgeConfig(_Strict):
    """What `vecgate bridge enable` demands of a map, and how `train` holds pairs out."""

    #: Recall@k against labels of at least this share of the old version's own recall.
    min_recall_ratio: float = Field(default=0.95, ge=0.0, le=1.0)
    #: Share of the paired points held out of fitting, to judge the maps on.
    holdout: float = Field(default=0.2, gt=0.0, lt=1.0)
    #: A square map is stored low-rank (``I + U V``, far smaller, so cheaper per query)
    #: when its held-out pair overlap stays within this of the dense map's; 0: dense.
    rank_tolerance: float = Field(default=0.005, ge=0.0, le=1.0)


class LimitsConfig(_Strict):
    """What one request may ask for, and how many run at once."""

    #: Requests that run at once; more wait (up to max_queued_requests), then are refused.
    max_concurrent_requests: int = Field(default=512, ge=1)
    max_queued_requests: int = Field(default=2048, ge=0)
    #: What a refused client is told to wait (the `retry-after` trailer, seconds).
    retry_after_seconds: float = Field(default=1.0, gt=0)
    #: Points one write may carry (upsert, update vectors, batch operations).
    max_points_per_request: int = Field(default=100_000, ge=1)
    #: Largest vector dimension a collection may declare (Qdrant's own limit is 65,536).
    max_dimension: int = Field(default=65_536, ge=1, le=65_536)
    #: Largest `limit` (top-k) of a search, query, recommend, discover or scroll.
    max_top_k: int = Field(default=100_000, ge=1)
    #: A client deadline longer than this is cut to it (seconds).
    max_deadline_seconds: float = Field(default=300.0, gt=0)


class DeprecationConfig(_Strict):
    """How vecgate treats models near or past their provider's sunset date."""

    warn_days: int = Field(default=30, ge=0, le=3650)
    on_sunset: Literal["allow", "refuse"] = "allow"


class TelemetryConfig(_Strict):
    """Tracing export (OTLP over gRPC) and the in-memory record of recent requests.

    Setting `endpoint` turns tracing export on; the standard ``OTEL_*`` variables
    (`proxy.telemetry.settings`) fill these settings from the environment.
    """

    #: OTLP gRPC collector, ``http://host:4317`` (plaintext) or ``https://...`` (TLS).
    endpoint: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    #: Follow the sampled flag of the client's traceparent (ParentBased sampling).
    follow_parent: bool = True
    service_name: str = Field(default="vecgate", min_length=1)
    #: Recent requests kept in memory for `vecgate inspect` (0: keep none).
    inspect_records: int = Field(default=1000, ge=0, le=1_000_000)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, endpoint: str | None) -> str | None:
        if not endpoint:
            return None
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"{endpoint!r} is not an OTLP gRPC URL; write http://host:4317 (plaintext) "
                "or https://host:4317 (TLS)"
            )
        return endpoint

    @field_validator("headers", mode="before")
    @classmethod
    def _headers_text(cls, headers: object) -> object:
        if isinstance(headers, str):  # VECGATE_TELEMETRY_HEADERS="key=value,key2=value2"
            from proxy.telemetry.settings import parse_headers

            return parse_headers(headers, where="telemetry.headers")
        return headers


class DriftConfig(_Strict):
    """Drift watch: fingerprints, streaming statistics per partition, the re-upsert check."""

    #: Streaming statistics and the re-upsert check (fingerprints are always on).
    enabled: bool = True
    #: Per anchor, the lowest cosine a fingerprint check accepts.
    fingerprint_min_cosine: float = Field(default=0.999, gt=0.0, le=1.0)
    #: Vectors of the reference window: the first ones a partition receives (or after a pin).
    reference_size: int = Field(default=500, ge=20, le=100_000)
    #: Vectors of the recent window compared with the reference.
    window: int = Field(default=100, ge=10, le=100_000)
    #: Vectors of the reservoir sample of everything seen.
    reservoir: int = Field(default=256, ge=10, le=100_000)
    #: Alarm when the centroid distance exceeds margin x its calibrated 99th percentile...
    margin: float = Field(default=1.5, ge=1.0, le=100.0)
    #: ... and the MMD permutation p-value is below this.
    mmd_alpha: float = Field(default=0.01, gt=0.0, le=1.0)
    #: At most one full scoring (MMD, KS, classifier) per partition this often (seconds).
    score_interval_seconds: float = Field(default=5.0, ge=0.0, le=3600.0)
    #: ... but this soon while the (cheap, every batch) centroid distance is over its
    #: threshold and no alarm is up, so a shift is confirmed or dismissed quickly.
    suspect_interval_seconds: float = Field(default=1.0, ge=0.0, le=3600.0)
    #: Vectors per second the watch takes in (0: all); above, whole batches are skipped
    #: (counted), so the watch's CPU stays a small share of a busy gateway's.
    max_vectors_per_second: float = Field(default=1000.0, ge=0.0)
    #: The watch's own CPU time (intake and scoring, measured) is held under this share
    #: of the process's: batches beyond are skipped and counted (0: no budget). Watching
    #: every vector costs ~10 % of upsert CPU (Python reads each point), so under heavy
    #: load the watch samples whole batches rather than slow the gateway.
    cpu_share: float = Field(default=0.02, ge=0.0, le=1.0)
    #: Written batches waiting for the watch; beyond, batches are dropped and counted.
    queue_batches: int = Field(default=1024, ge=1, le=1_000_000)
    #: Partitions watched per process; later ones are counted as unwatched.
    max_partitions: int = Field(default=256, ge=1, le=100_000)
    #: Payload field holding a point's text, for the re-upsert check ("" turns it off).
    text_field: str = "text"
    #: Points remembered per partition for the re-upsert check.
    reupsert_capacity: int = Field(default=1024, ge=1, le=10_000_000)
    #: A re-upsert of unchanged text below this cosine to its earlier vector is drift.
    reupsert_min_cosine: float = Field(default=0.99, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _windows(self) -> DriftConfig:
        if self.window * 2 > self.reference_size:
            raise ValueError("drift.window must be at most half of drift.reference_size")
        return self


class Config(_Strict):
    """The whole configuration."""

    server: ServerConfig = ServerConfig()
    backend: BackendConfig = BackendConfig()
    tags: TagConfig = TagConfig()
    pinning: PinningConfig = PinningConfig()
    identity: IdentityConfig = IdentityConfig()
    keys: tuple[KeyConfig, ...] = ()
    models: tuple[ModelConfig, ...] = ()
    deprecation: DeprecationConfig = DeprecationConfig()
    migration: MigrationConfig = MigrationConfig()
    bridge: BridgeConfig = BridgeConfig()
    limits: LimitsConfig = LimitsConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    drift: DriftConfig = DriftConfig()

    @model_validator(mode="after")
    def _keys_unique(self) -> Config:
        seen: dict[str, str] = {}
        for key in self.keys:
            if key.sha256 in seen:
                raise ValueError(
                    f"keys: {key.name!r} and {seen[key.sha256]!r} bind the same API key; "
                    "each key may be bound once"
                )
            if key.name in seen.values():
                raise ValueError(f"keys: the name {key.name!r} is used twice")
            seen[key.sha256] = key.name
        names = [model.name for model in self.models]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"models: {name!r} is listed twice")
        return self

    def pin_policy(self) -> PinPolicy:
        """The pin policy this configuration asks for."""
        return PinPolicy(self.pinning.mutable_tags)


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which an API key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def _check_identities(config: Config) -> None:
    """Refuse any configured identity that is malformed or unpinned, naming the entry."""
    policy = config.pin_policy()
    entries: list[tuple[str, str]] = []
    if config.identity.default is not None:
        entries.append(("identity.default", config.identity.default))
    entries += [(f"identity.collections.{c}", v) for c, v in config.identity.collections.items()]
    entries += [(f"keys.{k.name}.identity", k.identity) for k in config.keys if k.identity]
    entries += [(f"models.{m.name}", m.name) for m in config.models]
    for where, text in entries:
        try:
            policy.check(Identity.parse(text), where=where)
        except InvalidArgument as exc:
            message = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
            raise ConfigError(message) from None


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            current = merged.get(key)
            merged[key] = _merge(current if isinstance(current, dict) else {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting; check its spelling against vecgate.example.toml"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


ENV_PREFIX = "VECGATE_"
ADMIN_KEY_ENV = "VECGATE_ADMIN_KEY"
_SECTIONS = (
    "server",
    "backend",
    "tags",
    "deprecation",
    "migration",
    "telemetry",
    "limits",
    "drift",
)


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Single settings from the environment: ``VECGATE_<SECTION>_<SETTING>``.

    For example ``VECGATE_SERVER_GRPC_PORT=7334`` or ``VECGATE_BACKEND_SYNC_WRITES=true``;
    ``VECGATE_IDENTITY_DEFAULT=minilm@1``. Values are validated like the file's.
    The standard ``OTEL_*`` variables fill [telemetry] first; ``VECGATE_TELEMETRY_*`` win.
    """
    from proxy.telemetry.settings import otel_environment

    out: dict[str, Any] = {}
    otel = otel_environment(environ)
    if otel:
        out["telemetry"] = otel
    for section in _SECTIONS:
        model = Config.model_fields[section].annotation
        assert isinstance(model, type)
        for name in model.model_fields:
            value = environ.get(f"{ENV_PREFIX}{section}_{name}".upper())
            if value is not None:
                out.setdefault(section, {})[name] = value
    default = environ.get(f"{ENV_PREFIX}IDENTITY_DEFAULT")
    if default is not None:
        out["identity"] = {"default": default}
    return out


def _with_admin_key(raw: dict[str, Any], admin_key: str | None) -> dict[str, Any]:
    """Add the quick-start admin key (flag or VECGATE_ADMIN_KEY) as an admin binding."""
    if not admin_key:
        return raw
    digest = hash_key(admin_key)
    keys = list(raw.get("keys", ()))
    if any(isinstance(k, Mapping) and k.get("sha256") == digest for k in keys):
        return raw
    keys.append({"name": "admin", "sha256": digest, "role": "admin"})
    return {**raw, "keys": keys}


def load_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    admin_key: str | None = None,
) -> Config:
    """Read `path` (TOML), then the environment, then `overrides` (flags); validate all.

    `admin_key` (or ``VECGATE_ADMIN_KEY``) adds a key named ``admin`` with the admin
    role, for a quick start without writing its hash into the file.
    """
    environ = os.environ if environ is None else environ
    where = f"{path}: " if path is not None else ""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    raw = _merge(_merge(raw, env_overrides(environ)), overrides or {})
    raw = _with_admin_key(raw, admin_key or environ.get(ADMIN_KEY_ENV))
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{where}invalid configuration: {_describe(exc)}") from None
    try:
        _check_identities(config)
    except ConfigError as exc:
        raise ConfigError(f"{where}{exc}") from None
    return config
