"""API keys: those in the configuration file and those added at run time.

Keys added through the admin API are stored in the backend (collection ``vg__keys``,
one record per key: its name, SHA-256, identity, role and scope; never the secret),
so every replica on the backend honours them: at once on a miss (an unknown key
makes a replica re-read), and within `backend.refresh_seconds` for a removal.
Keys in the file cannot be changed at run time; their names and hashes are taken.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pydantic import ValidationError

from adapters.base import Backend
from proxy.config import KeyConfig
from proxy.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from proxy.identity import Identity, PinPolicy
from proxy.shared_state import SharedState
from proxy.store import RecordStore

STORE = "vg__keys"


@dataclass(slots=True)
class KeyState:
    """Every key vecgate accepts, by SHA-256, and the identity each speaks for."""

    by_hash: dict[str, KeyConfig] = field(default_factory=dict)
    identities: dict[str, Identity] = field(default_factory=dict)  # key name -> identity
    stored: set[str] = field(default_factory=set)  # names of keys added at run time
    data_keys: bool = False  # a reader or writer key exists


class KeyRing(SharedState[KeyState]):
    """Configured keys plus keys added through the admin API."""

    def __init__(self, backend: Backend, configured: tuple[KeyConfig, ...], policy: PinPolicy):
        self.configured = configured
        self.policy = policy
        self.store = RecordStore(backend, STORE)
        super().__init__(backend, self._state([]))  # configured identities checked now

    def _state(self, stored: list[KeyConfig]) -> KeyState:
        state = KeyState()
        taken = {key.name for key in self.configured} | {key.sha256 for key in self.configured}
        for key in (*self.configured, *(k for k in stored if not {k.name, k.sha256} & taken)):
            state.by_hash[key.sha256] = key
            if key.identity:
                state.identities[key.name] = self.policy.parse(
                    key.identity, where=f"keys.{key.name}.identity"
                )
        state.stored = {key.name for key in stored if key.sha256 in state.by_hash}
        state.data_keys = any(key.role != "admin" for key in state.by_hash.values())
        return state

    async def _read(self) -> KeyState:
        return self._state([KeyConfig.model_validate_json(text) for text in await self.store.all()])

    @property
    def any(self) -> bool:
        """Whether any key is configured or stored (without keys, api-key is ignored)."""
        return bool(self.state.by_hash)

    @property
    def data_keys(self) -> bool:
        """Whether a reader or writer key exists: then every data request needs a key."""
        return self.state.data_keys

    def find(self, presented: str) -> KeyConfig:
        """The key matching a presented secret, or UNAUTHENTICATED."""
        key = self.state.by_hash.get(hashlib.sha256(presented.encode()).hexdigest())
        if key is None:
            raise Unauthenticated(
                "the api-key sent is not known to vecgate; use a key listed in its "
                "configuration or added with `vecgate keys add`, or send none",
                reason="unknown_api_key",
            )
        return key

    def identity_of(self, name: str | None) -> Identity | None:
        """The identity a key speaks for, if it is bound to one."""
        return self.state.identities.get(name) if name else None

    def source(self, key: KeyConfig) -> str:
        """``config`` or ``stored``."""
        return "stored" if key.name in self.state.stored else "config"

    async def add(self, key: KeyConfig) -> KeyConfig:
        """Store a new key; ALREADY_EXISTS when its name or secret is taken."""
        if key.identity:
            self.policy.parse(key.identity, where="identity")  # pinned, or INVALID_ARGUMENT
        state = await self.refresh()
        for known in state.by_hash.values():
            if known.name == key.name:
                raise AlreadyExists(f"a key named {key.name!r} exists", reason="key_exists")
            if known.sha256 == key.sha256:
                raise AlreadyExists(
                    f"that secret is already the key {known.name!r}; make a new secret",
                    reason="key_exists",
                )
        await self.store.put(key.name, key.model_dump_json())
        await self.refresh()
        return key

    async def remove(self, name: str) -> KeyConfig:
        """Remove a key added at run time; keys of the file are changed in the file."""
        state = await self.refresh()
        key = next((k for k in state.by_hash.values() if k.name == name), None)
        if key is None:
            raise NotFound(f"no key named {name!r}", reason="no_key")
        if name not in state.stored:
            raise FailedPrecondition(
                f"key {name!r} is defined in the configuration file; remove it there",
                reason="key_in_config",
            )
        await self.store.delete(name)
        await self.refresh()
        return key


def new_key(name: str, sha256: str, identity: str, role: str, collections: list[str]) -> KeyConfig:
    """A key from admin API fields, or INVALID_ARGUMENT naming what is wrong."""
    try:
        return KeyConfig.model_validate(
            {
                "name": name,
                "sha256": sha256.lower(),
                "identity": identity or None,
                "role": role or "writer",
                "collections": tuple(collections) or ("*",),
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "key"
        raise InvalidArgument(
            f"{where}: {first['msg']} (name: text; sha256: 64 hex digits from `vecgate "
            "hash-key`; role: reader, writer or admin)",
            reason="bad_key",
        ) from None
