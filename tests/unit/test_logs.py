"""The request line, written without structlog's per-call machinery, is the line
structlog's pipeline writes: same fields, order, level, timestamp format, one JSON
object per line on stderr; filtered out below its level."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

import pytest
import structlog

from proxy import logs

FIELDS = {
    "method": "Points/Query",
    "collection": "docs ✓",
    "partition": None,
    "points": 3,
    "latency_ms": 1.25,
    "sampled": True,
}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def stderr(capsys, monkeypatch):
    """Captured stderr (a text stream with a byte buffer, as a process's is); logging is
    set up on it by the test and reset after it."""
    assert hasattr(sys.stderr, "buffer")
    yield capsys
    structlog.reset_defaults()
    monkeypatch.setattr(logs, "_request_line", logs._through_pipeline)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_the_request_line_is_the_pipelines_line(stderr):
    logs.configure_logging("info")
    logs.log_request(dict(FIELDS))
    structlog.get_logger("vecgate.request").info("request", **FIELDS)
    direct, piped = lines(stderr)
    assert list(direct) == list(piped) == [*FIELDS, "event", "level", "timestamp"]
    stamps = direct.pop("timestamp"), piped.pop("timestamp")
    assert direct == piped == {**FIELDS, "event": "request", "level": "info"}
    for stamp in stamps:
        assert STAMP.match(stamp), stamp
        at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - at).total_seconds()) < 60


def test_below_its_level_the_request_line_is_not_written(stderr):
    logs.configure_logging("warning")
    logs.log_request(dict(FIELDS))
    structlog.get_logger("vecgate").warning("kept", n=1)
    assert [line["event"] for line in lines(stderr)] == ["kept"]
