"""vecgate's configuration: a TOML file, then flags; validated once, at start.

    config = load_config(Path("vecgate.toml"), overrides={"server": {"grpc_port": 7334}})

An unknown key, an unpinned version, a duplicate key binding or a bad address stops
start-up with a message naming the entry (`ConfigError`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    """Which vector database stands behind vecgate."""

    url: str = "embedded"
    #: Embedded engine: fsync every write (survives a machine crash, +3-4 ms per write).
    #: Without it an acknowledged write survives a crash of the vecgate process.
    sync_writes: bool = False

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if url != "embedded":
            raise ValueError(
                f"backend {url!r} is not available in this build; use 'embedded' "
                "(remote Qdrant and Milvus backends are planned)"
            )
        return url


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


class KeyConfig(_Strict):
    """An API key (stored as its SHA-256) bound to a model identity."""

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    identity: str | None = None


class Config(_Strict):
    """The whole configuration."""

    server: ServerConfig = ServerConfig()
    backend: BackendConfig = BackendConfig()
    tags: TagConfig = TagConfig()
    pinning: PinningConfig = PinningConfig()
    identity: IdentityConfig = IdentityConfig()
    keys: tuple[KeyConfig, ...] = ()

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


def load_config(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Read `path` (TOML) if given, apply `overrides` (flags win), validate everything."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    raw = _merge(raw, overrides or {})
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_describe(exc)}") from None
    _check_identities(config)
    return config
