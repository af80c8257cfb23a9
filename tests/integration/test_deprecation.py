"""Sunset dates: refusal past the date when configured, and the start-up warning in the log."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from qdrant_client import models

from tests.gatewayproc import GatewayProcess, running_gateway

TODAY = datetime.now(UTC).date()


def test_past_sunset_is_refused_when_configured(tmp_path):
    """With on_sunset = refuse, a request under a model past its sunset is FAILED_PRECONDITION."""
    config = (
        '[deprecation]\non_sunset = "refuse"\n'
        f'[[models]]\nname = "old@1"\nsunset = {(TODAY - timedelta(days=3)).isoformat()}\n'
    )
    with running_gateway(tmp_path / "data", config) as gw:
        with pytest.raises(grpc.RpcError) as excinfo:
            gw.client("old@1").create_collection(
                "docs", vectors_config=models.VectorParams(size=4, distance="Cosine")
            )
        assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert "passed its sunset date" in excinfo.value.details()
        assert "3 day(s) ago" in excinfo.value.details()
        gw.client("new@1").create_collection(
            "docs", vectors_config=models.VectorParams(size=4, distance="Cosine")
        )


def test_models_in_use_near_sunset_are_logged_at_start(tmp_path):
    """After a restart, a model in use within the warning window is a warning in the log."""
    soon = (TODAY + timedelta(days=10)).isoformat()
    config = (
        f'[[models]]\nname = "emb@1"\nsunset = {soon}\n'
        f'[[models]]\nname = "idle@1"\nsunset = {soon}\n'
    )
    with running_gateway(tmp_path / "data", config) as gw:
        gw.client("emb@1").create_collection(
            "docs", vectors_config=models.VectorParams(size=4, distance="Cosine")
        )
    gw = GatewayProcess(tmp_path / "data", config).start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while datetime.now(UTC) < deadline and not any("deprecation" in x for x in gw.log_lines):
            time.sleep(0.05)
        records = [json.loads(x) for x in gw.log_lines if '"model deprecation"' in x]
    finally:
        gw.stop()
    assert [r["model"] for r in records] == ["emb@1"]  # idle@1 is not in use
    assert records[0]["level"] == "warning"
    assert f"reaches its sunset date {soon} in 10 day(s)" in records[0]["detail"]
