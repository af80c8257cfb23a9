"""Deterministic, collision-free physical index names for (logical collection, binding).

    physical_name("docs", {"": Identity("minilm", "2")})  ->  "vg__docs__minilm-2__3f9c0a1b2c4d"

The readable middle is for operators; the hash of the exact (logical, binding) makes
two different partitions never share a name, whatever their slugs look like.
"""

from __future__ import annotations

import hashlib
import re

from proxy.identity import Binding

PREFIX = "vg__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_SLUG = 48


def _slug(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-.")[:_MAX_SLUG] or "x"


def binding_key(binding: Binding) -> str:
    """A canonical text of a binding, used for hashing and equality."""
    return "\n".join(f"{name}={ident}" for name, ident in sorted(binding.items()))


def physical_name(logical: str, binding: Binding) -> str:
    """The backend index name of one partition."""
    digest = hashlib.sha256(f"{logical}\0{binding_key(binding)}".encode()).hexdigest()[:12]
    idents = sorted({f"{ident.model}-{ident.version}" for ident in binding.values()})
    return f"{PREFIX}{_slug(logical)}__{_slug('+'.join(idents))}__{digest}"


def is_physical(name: str) -> bool:
    """Whether a backend collection name is one of vecgate's partitions."""
    return name.startswith(PREFIX)
