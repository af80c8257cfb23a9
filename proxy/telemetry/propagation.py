"""W3C trace context on the way in (client metadata) and out (to a remote backend).

A backend that calls another server sends `trace_headers()` as its call metadata:
with tracing on, a `traceparent` naming the current span (vecgate's backend span,
so the remote server's span becomes its child); with tracing off, the client's own
`traceparent`/`tracestate`, passed through untouched. Outside a request: ``{}``.
"""

from __future__ import annotations

import random
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
W3C = TraceContextTextMapPropagator()

#: The headers to forward for the request being served (set per request, per task).
_outgoing: ContextVar[dict[str, str] | None] = ContextVar("vecgate_trace_headers", default=None)
_HEX = frozenset("0123456789abcdef")


def trace_headers() -> dict[str, str]:
    """The W3C trace headers a backend should send with its call (possibly empty)."""
    span = trace.get_current_span()
    if span.get_span_context().is_valid:
        carrier: dict[str, str] = {}
        W3C.inject(carrier)
        return carrier
    passed = _outgoing.get()
    return dict(passed) if passed else {}


def set_passthrough(metadata: dict[str, str]) -> object | None:
    """Tracing off: remember the client's trace headers for `trace_headers`; a reset token."""
    parent = metadata.get(TRACEPARENT)
    if parent is None:
        return None
    headers = {TRACEPARENT: parent}
    state = metadata.get(TRACESTATE)
    if state is not None:
        headers[TRACESTATE] = state
    return _outgoing.set(headers)


def reset_passthrough(token: object | None) -> None:
    """Forget what `set_passthrough` remembered."""
    if token is not None:
        _outgoing.reset(token)  # type: ignore[arg-type]


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid version-00 ``traceparent``, else None."""
    if value is None or len(value) < 55:
        return None
    parts = value.split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or parts[0] == "ff":
        return None
    trace_id, span_id = parts[1], parts[2]
    if not set(trace_id) <= _HEX or not set(span_id) <= _HEX:
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return trace_id, span_id


def new_ids(client_traceparent: str | None) -> tuple[str, str]:
    """(trace id, span id) for a request when tracing is off: the client's trace, or a new one.

    The ids tie the log line and the inspection record together and to the client's
    own trace; no span is exported under them.
    """
    parsed = parse_traceparent(client_traceparent)
    trace_id = parsed[0] if parsed else f"{random.getrandbits(128):032x}"
    return trace_id, f"{random.getrandbits(64):016x}"
