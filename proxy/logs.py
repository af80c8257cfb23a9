"""structlog set-up: one JSON object per line on stderr.

Every request writes a line, so the pipeline is kept cheap (decisions: "Telemetry
CPU"): orjson renders it (compact JSON, UTF-8) straight to stderr's byte stream, and
the timestamp reuses the formatted second (ISO 8601, UTC, microseconds, ``Z``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import MutableMapping
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


def configure_logging(level: str = "info") -> None:
    """Send JSON log lines to stderr at `level`."""
    stream = getattr(sys.stderr, "buffer", None)
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
            UtcStamp(),
            structlog.processors.format_exc_info,
            renderer if stream is not None else _as_text(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )


def _as_text(renderer: Any) -> Any:
    """A text stream without a byte buffer (an embedding test harness): decode the line."""

    def render(logger: Any, name: str, event: dict[str, Any]) -> str:
        return str(renderer(logger, name, event).decode())

    return render
