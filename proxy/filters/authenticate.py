"""Authenticate: recognise the caller's `api-key` (stored as SHA-256), then authorise.

Roles: a ``reader`` key reads and searches; a ``writer`` key also writes points and
creates, updates or deletes collections; an ``admin`` key may also call the admin
API. A key's collection scope (``collections``, ``["*"]`` for all) limits the
logical collections it reaches, through their aliases too, and what `List` shows.
"""

from __future__ import annotations

from typing import Any

from proxy.chain import RequestFilter
from proxy.config import KeyConfig
from proxy.envelope import Envelope
from proxy.errors import PermissionDenied, Unauthenticated
from proxy.frontend.ops import Kind
from proxy.keys import KeyRing
from proxy.registry import Registry

_CATALOG_WRITES = frozenset({"Create", "Update", "Delete", "UpdateAliases"})
_LISTS = frozenset({"List", "ListAliases"})


def in_scope(key: KeyConfig, logical: str | None) -> bool:
    """Whether a key's collection scope covers a logical collection."""
    return "*" in key.collections or logical in key.collections


class Authenticate(RequestFilter):
    """Maps the `api-key` metadata to a known key and enforces its role and scope."""

    def __init__(self, keys: KeyRing, registry: Registry, *, allow_anonymous: bool) -> None:
        self.keys = keys
        self.registry = registry
        self.allow_anonymous = allow_anonymous

    def on_request(self, env: Envelope) -> None:
        """Record the presented key; refuse unknown keys, wrong roles, foreign collections."""
        presented = env.metadata.get("api-key")
        if not presented:
            if self.keys.data_keys and not self.allow_anonymous and env.op.kind is not Kind.HEALTH:
                raise Unauthenticated(
                    f"{env.op.label} needs an api-key: vecgate has reader/writer keys, so "
                    "anonymous requests are refused; send one (qdrant-client: api_key=...) or set "
                    "server.allow_anonymous",
                    reason="no_api_key",
                )
            return
        if not self.keys.any:
            return
        key = self.keys.find(presented)
        env.key = key
        env.key_name = key.name
        op = env.op
        if key.role == "reader" and (op.kind is Kind.WRITE or op.name in _CATALOG_WRITES):
            raise PermissionDenied(
                f"api key {key.name!r} has the role reader; {op.label} needs a writer or admin key",
                reason="role",
            )
        if env.collection is not None and not self._allowed(key, env.collection):
            raise PermissionDenied(
                f"api key {key.name!r} may not use collection `{env.collection}`; its scope "
                f"is {', '.join(key.collections)}",
                reason="scope",
            )

    def _allowed(self, key: KeyConfig, name: str) -> bool:
        if in_scope(key, name):
            return True
        return in_scope(key, self.registry.state.aliases.get(name))

    def on_response(self, env: Envelope, response: Any) -> Any:
        """Show a scoped key only the collections and aliases in its scope."""
        key = env.key
        if key is None or "*" in key.collections or env.op.name not in _LISTS:
            return response
        if env.op.name == "List":
            kept = [c for c in response.collections if in_scope(key, c.name)]
            del response.collections[:]
            response.collections.extend(kept)
        else:
            kept = [a for a in response.aliases if in_scope(key, a.collection_name)]
            del response.aliases[:]
            response.aliases.extend(kept)
        return response
