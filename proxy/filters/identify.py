"""Identify: which model version the request speaks for (first match wins).

1. metadata ``x-embedding-model: name@version`` and ``x-embedding-model-<vector>``;
2. the identity bound to the caller's API key;
3. the configured default identity of the collection, then the global one.

Every identity is checked against the pin policy, on every request.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.chain import RequestFilter
from proxy.envelope import Claim, Envelope
from proxy.errors import InvalidArgument
from proxy.identity import Identity, PinPolicy
from proxy.keys import KeyRing

HEADER = "x-embedding-model"
_PER_NAME = HEADER + "-"


class Identify(RequestFilter):
    """Fills `env.claim` from metadata, key bindings and configured defaults."""

    def __init__(
        self,
        policy: PinPolicy,
        *,
        keys: KeyRing | None = None,
        default: str | None = None,
        collection_defaults: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy
        self.keys = keys
        self.default = policy.parse(default, where="identity.default") if default else None
        self.collection_defaults = {
            name: policy.parse(text, where=f"identity.collections.{name}")
            for name, text in (collection_defaults or {}).items()
        }
        self._parsed: dict[str, Identity] = {}

    def _parse(self, text: str, where: str) -> Identity:
        identity = self._parsed.get(text)
        if identity is None:
            identity = self.policy.parse(text, where=where)
            if len(self._parsed) < 4096:
                self._parsed[text] = identity
        return identity

    def on_request(self, env: Envelope) -> None:
        """Set `env.claim`; refuse malformed or unpinned identities."""
        for key in env.extra.get("conflicting_metadata", ()):
            if key.startswith(HEADER) or key == "api-key":
                raise InvalidArgument(
                    f"{key} was sent more than once with different values; send it once, "
                    "naming one model version",
                    reason="conflicting_identity",
                )
        claim = Claim()
        for key, value in env.metadata.items():
            if key == HEADER:
                claim.general = self._parse(value, HEADER)
            elif key.startswith(_PER_NAME):
                claim.per_name[key[len(_PER_NAME) :]] = self._parse(value, key)
        if not claim.empty:
            claim.source = "header"
        elif self.keys is not None and (bound := self.keys.identity_of(env.key_name)):
            claim.general, claim.source = bound, "api-key"
        elif env.collection in self.collection_defaults:
            claim.general = self.collection_defaults[env.collection]
            claim.source = f"default:{env.collection}"
        elif self.default is not None:
            claim.general, claim.source = self.default, "default"
        env.claim = claim
