"""Authenticate: recognise the caller's `api-key` (stored as SHA-256) and its binding."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from proxy.chain import RequestFilter
from proxy.config import KeyConfig
from proxy.envelope import Envelope
from proxy.errors import Unauthenticated


class Authenticate(RequestFilter):
    """Maps the `api-key` metadata to a configured key; unknown keys are refused."""

    def __init__(self, keys: Iterable[KeyConfig]) -> None:
        self.keys = {key.sha256: key for key in keys}

    def on_request(self, env: Envelope) -> None:
        """Record which configured key the request presents, if any."""
        presented = env.metadata.get("api-key")
        if not presented or not self.keys:
            return
        key = self.keys.get(hashlib.sha256(presented.encode()).hexdigest())
        if key is None:
            env.reason = "unknown_api_key"
            raise Unauthenticated(
                "the api-key sent is not known to vecgate; use a key listed in its "
                "configuration, or send none",
                reason="unknown_api_key",
            )
        env.key_name = key.name
