"""W3C trace context on the way in (client metadata) and out (to a remote backend).

A backend that calls another server sends `trace_headers()` as its call metadata:
with tracing on, a `traceparent` naming the current span (vecgate's backend span,
so the remote server's span becomes its child); with tracing off, the client's own
`traceparent`/`tracestate`, passed through untouched. Outside a request: ``{}``.
"""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

from opentelemetry.trace import SpanContext, TraceFlags, TraceState

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
#: W3C trace-context level 1: version-traceid-parentid-flags, and more after a "-" in a
#: later version. Spaces and tabs around it are tolerated, as the SDK's propagator does.
_TRACEPARENT = re.compile(
    r"[ \t]*([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:(-.*)|[ \t]*)"
)
_TRACEPARENT_MAX = 512
_TRACESTATE_MAX = 8192  # the SDK propagator's limit

#: The span current in this request (tracing on): what `trace_headers` names.
CURRENT: ContextVar[SpanContext | None] = ContextVar("vecgate_span", default=None)

#: The headers to forward for the request being served (set per request, per task).
_outgoing: ContextVar[dict[str, str] | None] = ContextVar("vecgate_trace_headers", default=None)
_HEX = frozenset("0123456789abcdef")


def trace_headers() -> dict[str, str]:
    """The W3C trace headers a backend should send with its call (possibly empty)."""
    span = CURRENT.get()
    if span is not None:
        ids = f"{span.trace_id:032x}-{span.span_id:016x}"
        carrier = {TRACEPARENT: f"00-{ids}-{span.trace_flags:02x}"}
        if span.trace_state:
            carrier[TRACESTATE] = span.trace_state.to_header()
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


def extract_parent(metadata: dict[str, str]) -> SpanContext | None:
    """The client's span from its W3C ``traceparent`` (and ``tracestate``), as the SDK's
    TraceContextTextMapPropagator reads them; None if absent or invalid."""
    header = metadata.get(TRACEPARENT)
    if not header or len(header) > _TRACEPARENT_MAX:
        return None
    match = _TRACEPARENT.fullmatch(header)
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16 or version == "ff":
        return None
    if version == "00" and rest:
        return None
    state = metadata.get(TRACESTATE)
    trace_state = (
        TraceState.from_header([state])
        if state is not None and len(state) <= _TRACESTATE_MAX
        else None
    )
    return SpanContext(
        int(trace_id, 16), int(span_id, 16), True, TraceFlags(int(flags, 16)), trace_state
    )


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
