"""Which gRPC statuses are the server's fault (span status ERROR) and which the client's."""

from __future__ import annotations

import grpc

#: Statuses that mean vecgate or its backend failed. Every other non-OK status is the
#: client's to fix (bad input, refused, not found, denied, limits, cancelled) or a
#: documented refusal (UNIMPLEMENTED names what vecgate does not support): the span
#: status stays unset, as the RPC semantic conventions ask for client faults.
SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.DATA_LOSS,
    }
)


def is_server_fault(code: grpc.StatusCode) -> bool:
    """Whether a status marks a span (and a request) as failed by the server side."""
    return code in SERVER_FAULTS
