"""structlog set-up: one JSON object per line on stderr.

Every request writes a line, so that line is kept cheap (decisions: "Telemetry
CPU"): orjson renders every line (compact JSON, UTF-8) straight to stderr's byte
stream, the timestamp reuses the formatted second (ISO 8601, UTC, microseconds,
``Z``), and `log_request` writes the request line itself, with the fields, order
and format the structlog pipeline gives every other line, without its per-call
machinery (bound-logger proxy, context copy, five processors: half the cost; it
merges no `structlog.contextvars`, which vecgate never binds).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson
import structlog


class UtcStamp:
    """``timestamp``: ``2026-11-22T10:54:52.123456Z`` (structlog's iso/utc format),
    formatting the date and time of day once per second."""

    __slots__ = ("prefix", "second")

    def __init__(self) -> None:
        self.second, self.prefix = -1, ""

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> Any:
        """Add the current time to `event`."""
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event["timestamp"] = f"{self.prefix}.{int((now - second) * 1e6):06d}Z"
        return event


def _dumps(event: dict[str, Any], **options: Any) -> bytes:
    """orjson, accepting non-string keys (json.dumps did); anything else orjson cannot
    write goes through structlog's fallback (repr)."""
    return orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS, **options)


class RequestLine:
    """Writes the ``request`` event at level info, as the configured pipeline would."""

    __slots__ = ("flush", "stamp", "write")

    def __init__(self, stream: Any, stamp: UtcStamp) -> None:
        self.write, self.flush, self.stamp = stream.write, stream.flush, stamp

    def __call__(self, fields: dict[str, Any]) -> None:
        """Write one request's line (`fields` gains event, level and timestamp)."""
        fields["event"] = "request"
        fields["level"] = "info"
        self.stamp(None, "info", fields)
        self.write(_dumps(fields) + b"\n")
        self.flush()


def _through_pipeline(fields: dict[str, Any]) -> None:
    structlog.get_logger("vecgate.request").info("request", **fields)


def _filtered_out(fields: dict[str, Any]) -> None:
    return None


#: How `log_request` writes; `configure_logging` picks it.
_request_line: Callable[[dict[str, Any]], None] = _through_pipeline


def log_request(fields: dict[str, Any]) -> None:
    """Log one request's line (`fields`: str, int, float, bool or None values)."""
    _request_line(fields)


def configure_logging(level: str = "info") -> None:
    """Send JSON log lines to stderr at `level`."""
    global _request_line  # noqa: PLW0603 - the process's one log set-up
    number = logging.getLevelNamesMapping()[level.upper()]
    stream = getattr(sys.stderr, "buffer", None)
    stamp = UtcStamp()
    if number > logging.INFO:
        _request_line = _filtered_out
    elif stream is not None:
        _request_line = RequestLine(stream, stamp)
    else:  # a text stream without a byte buffer: the pipeline writes the line
        _request_line = _through_pipeline
    factory: Any = (
        structlog.BytesLoggerFactory(stream)
        if stream is not None
        else structlog.PrintLoggerFactory(sys.stderr)
    )
    renderer = structlog.processors.JSONRenderer(serializer=_dumps)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            structlog.processors.format_exc_info,
            renderer if stream is not None else _as_text(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )


def _as_text(renderer: Any) -> Any:
    """A text stream without a byte buffer (an embedding test harness): decode the line."""

    def render(logger: Any, name: str, event: dict[str, Any]) -> str:
        return str(renderer(logger, name, event).decode())

    return render
