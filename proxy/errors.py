"""The one error tree of vecgate; every leaf carries exactly one gRPC status.

    VecgateError                      (never raised itself: UNKNOWN is a bug)
    ├── InvalidArgument               INVALID_ARGUMENT    malformed request, bad vector, forged tag
    │   └── UnpinnedVersion           INVALID_ARGUMENT    `latest`, empty or a mutable tag
    ├── NotFound                      NOT_FOUND           collection, alias or point absent
    ├── AlreadyExists                 ALREADY_EXISTS      collection or alias name taken
    ├── FailedPrecondition            FAILED_PRECONDITION state forbids it; do not retry as is
    │   ├── MissingIdentity           FAILED_PRECONDITION vectors without a model identity
    │   └── NoPartition               FAILED_PRECONDITION identity has no index: cross-version
    ├── Unauthenticated               UNAUTHENTICATED
    ├── PermissionDenied              PERMISSION_DENIED
    ├── ResourceExhausted             RESOURCE_EXHAUSTED  limits; may carry retry-after
    ├── Unimplemented                 UNIMPLEMENTED       names what is not supported
    ├── Unavailable                   UNAVAILABLE         backend down: the same call may be retried
    ├── DeadlineExceeded              DEADLINE_EXCEEDED
    └── Internal                      INTERNAL            a backend fault we cannot classify

Backends translate their own exceptions into this tree at one boundary (their adapter);
the frontend turns any `VecgateError` into a status and a sentence, nothing else.
"""

from __future__ import annotations

import grpc


class VecgateError(Exception):
    """Base of every error vecgate reports to a client."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or type(self).__name__

    def __str__(self) -> str:
        return self.message


class InvalidArgument(VecgateError):
    """The request is malformed; it must be changed before it can succeed."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class UnpinnedVersion(InvalidArgument):
    """An identity names a mutable or empty version (`latest`, `stable`, ...)."""


class NotFound(VecgateError):
    """A collection, alias or point does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(VecgateError):
    """A collection or alias of that name already exists."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(VecgateError):
    """The system is not in a state that allows this; retrying as is will not help."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class MissingIdentity(FailedPrecondition):
    """A request carries vectors but says no embedding model version."""


class NoPartition(FailedPrecondition):
    """The logical collection has no index built by the request's model version."""


class Unauthenticated(VecgateError):
    """No valid credentials were presented."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(VecgateError):
    """The caller is known but may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(VecgateError):
    """A limit was hit; `retry_after` (seconds) says when to come back, if known."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(
        self, message: str, *, retry_after: float | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class Unimplemented(VecgateError):
    """The RPC or construct is not supported; the message names it."""

    code = grpc.StatusCode.UNIMPLEMENTED


class Unavailable(VecgateError):
    """The backend cannot be reached right now; the same call may be retried."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(VecgateError):
    """The call's deadline passed before the backend answered."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(VecgateError):
    """A backend fault vecgate cannot classify more precisely."""

    code = grpc.StatusCode.INTERNAL
