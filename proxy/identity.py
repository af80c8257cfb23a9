"""Which embedding model made a vector: `Identity(model, version)` and the pin policy.

    Identity.parse("minilm@2")            -> Identity(model="minilm", version="2")
    PinPolicy(["latest", "stable"]).check(Identity.parse("minilm@latest"))  # raises

A binding maps each vector name of a collection ("" for the unnamed vector) to the
identity that produced it; a partition (one physical index) is keyed by its binding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from proxy.errors import InvalidArgument, UnpinnedVersion

#: Mutable tags refused unless the configuration says otherwise.
DEFAULT_MUTABLE_TAGS: tuple[str, ...] = (
    "latest",
    "stable",
    "main",
    "master",
    "default",
    "current",
    "newest",
    "head",
    "dev",
    "nightly",
    "edge",
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,199}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Identity:
    """An embedding model name and an explicit version of it."""

    model: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Parse ``name@version``; the version is what follows the last ``@``."""
        model, at, version = text.strip().rpartition("@")
        if not at or not model:
            raise InvalidArgument(
                f"embedding model {text!r} has no version; write it as <name>@<version>, "
                "for example 'minilm@2'"
            )
        if not _NAME.match(model):
            raise InvalidArgument(
                f"embedding model name {model!r} is not valid; use letters, digits and . _ : / + -"
            )
        if version and not _VERSION.match(version):
            raise InvalidArgument(
                f"embedding model version {version!r} of {model!r} is not valid; "
                "use letters, digits and . _ + -"
            )
        return cls(model, version)

    def __str__(self) -> str:
        return f"{self.model}@{self.version}"


Binding = Mapping[str, Identity]


def binding_text(binding: Binding) -> str:
    """A binding as users read it: ``minilm@2`` (one model) or ``image=clip@1, text=minilm@2``."""
    identities = set(binding.values())
    if len(identities) == 1:
        return str(next(iter(identities)))
    return ", ".join(f"{name or '(default)'}={ident}" for name, ident in sorted(binding.items()))


class PinPolicy:
    """Refuses identities whose version is empty or a mutable tag."""

    def __init__(self, mutable_tags: Iterable[str] = DEFAULT_MUTABLE_TAGS) -> None:
        self.mutable_tags = frozenset(tag.lower() for tag in mutable_tags)

    def check(self, identity: Identity, *, where: str = "x-embedding-model") -> Identity:
        """Return `identity` if its version is pinned, else raise `UnpinnedVersion`."""
        version = identity.version
        if not version:
            raise UnpinnedVersion(
                f"{where}: {identity.model!r} has an empty version; pin an explicit version "
                f"such as '{identity.model}@1'",
                reason="unpinned_version",
            )
        if version.lower() in self.mutable_tags:
            raise UnpinnedVersion(
                f"{where}: '{identity}' names the mutable tag {version!r}, whose weights can "
                f"change silently; pin an explicit version such as '{identity.model}@1' "
                f"(refused tags: {', '.join(sorted(self.mutable_tags))})",
                reason="unpinned_version",
            )
        return identity

    def parse(self, text: str, *, where: str = "x-embedding-model") -> Identity:
        """Parse and check in one step."""
        try:
            identity = Identity.parse(text)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{where}: {exc.message}", reason="bad_identity") from None
        return self.check(identity, where=where)
