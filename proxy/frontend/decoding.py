"""Request bytes to messages, without letting a malformed request become UNKNOWN.

gRPC answers UNKNOWN (or INTERNAL) when a deserializer raises. vecgate parses
leniently instead: bytes that are not the RPC's message become an `Undecodable`,
which the handler refuses with INVALID_ARGUMENT and a sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError

from proxy.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Request bytes that do not parse as the RPC's request message."""

    message_name: str
    error: str

    def refusal(self) -> InvalidArgument:
        """The INVALID_ARGUMENT a client gets for these bytes."""
        return InvalidArgument(
            f"the request is not a valid {self.message_name} message ({self.error}); send "
            "what a Qdrant client library encodes",
            reason="undecodable",
        )


@dataclass(frozen=True, slots=True)
class Received:
    """A parsed request with the bytes it was parsed from (`lenient(..., keep=True)`)."""

    message: Any
    raw: bytes


def lenient(message_type: Any, *, keep: bool = False) -> Callable[[bytes], Any]:
    """A request deserializer that returns `Undecodable` instead of raising; with
    `keep`, the parsed message comes as a `Received` holding the bytes too."""
    name = message_type.DESCRIPTOR.full_name

    def parse(raw: bytes) -> Any:
        try:
            message = message_type.FromString(raw)
        except DecodeError as exc:
            return Undecodable(name, str(exc) or "malformed wire data")
        return Received(message, raw) if keep else message

    return parse
