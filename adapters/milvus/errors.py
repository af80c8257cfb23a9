"""Milvus and pymilvus failures as `proxy.errors`, at one boundary.

pymilvus raises `MilvusException` (a server status: code + message), `ParamError`
(refused before sending) or grpc's `AioRpcError` (the connection). Each becomes one
error class with a sentence naming the Milvus server; nothing raw reaches a client.
"""

from __future__ import annotations

import grpc
from pymilvus.client.types import Status
from pymilvus.exceptions import MilvusException, MilvusUnavailableException, ParamError

from proxy.errors import (
    AlreadyExists,
    DeadlineExceeded,
    Internal,
    InvalidArgument,
    NotFound,
    Unavailable,
    VecgateError,
)

_NOT_FOUND = ("not found", "doesn't exist", "does not exist", "not exist")
_EXISTS = ("already exist",)
_BAD_INPUT = ("invalid", "illegal", "expected", "unexpected", "must be", "mismatch", "dim")


def translate(exc: BaseException, where: str, what: str) -> VecgateError:
    """The error a client gets for `exc`, raised by Milvus at `where` while doing `what`."""
    if isinstance(exc, VecgateError):
        return exc
    if isinstance(exc, grpc.aio.AioRpcError):
        code = exc.code()
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return DeadlineExceeded(f"the Milvus backend at {where} did not answer {what} in time")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
            return Unavailable(
                f"the Milvus backend at {where} is unavailable ({code.name}); "
                "the same call may be retried"
            )
        return Internal(f"the Milvus backend at {where} failed on {what}: {code.name}")
    message = str(getattr(exc, "message", "") or exc).strip().splitlines()[0][:300]
    lowered = message.lower()
    if isinstance(exc, ParamError):
        return InvalidArgument(f"Wrong input: Milvus refused {what}: {message}")
    if isinstance(exc, MilvusUnavailableException) or (
        isinstance(exc, MilvusException) and getattr(exc, "code", None) == Status.CONNECT_FAILED
    ):  # (its message says "illegal connection params or server unavailable": not bad input)
        return Unavailable(
            f"the Milvus backend at {where} is unavailable (cannot connect); "
            "the same call may be retried"
        )
    if isinstance(exc, MilvusException):
        if any(text in lowered for text in _EXISTS):
            return AlreadyExists(f"Wrong input: {message}")
        if any(text in lowered for text in _NOT_FOUND):
            return NotFound(f"Not found: {message}")
        if any(text in lowered for text in _BAD_INPUT):
            return InvalidArgument(f"Wrong input: Milvus refused {what}: {message}")
        if "timeout" in lowered or "deadline" in lowered:
            return DeadlineExceeded(f"the Milvus backend at {where} did not answer {what} in time")
        return Internal(f"the Milvus backend at {where} failed on {what}: {message}")
    return Internal(f"the Milvus backend at {where} failed on {what}: {type(exc).__name__}")
