"""`GET /metrics` after a known workload through real clients: exact counts."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from qdrant_client import models

from tests.gatewayproc import running_gateway

SOON = datetime.now(UTC).date() + timedelta(days=12)
CONFIG = f"""
[[models]]
name = "emb@1"
dimension = 4
distance = "Cosine"
sunset = {SOON.isoformat()}
[[models]]
name = "emb@2"
"""
QUERY = [1.0, 0.0, 0.5, 0.0]


def scrape(port: int) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        content_type = reply.headers["Content-Type"]
        text = reply.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return content_type, samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_a_known_workload_exactly(tmp_path):
    """Requests by method/decision/collection/version, latency histogram counts, refusals by
    reason, points written per version and days to sunset, all exact."""
    with running_gateway(tmp_path / "data", CONFIG) as gw:
        app, stranger, anonymous = gw.client("emb@1"), gw.client("emb@2"), gw.client()
        app.create_collection("docs", vectors_config=models.VectorParams(size=4, distance="Cosine"))
        app.upsert("docs", [models.PointStruct(id=i, vector=[1.0, i, 0.5, 0]) for i in range(7)])
        app.upsert(
            "docs", [models.PointStruct(id=i, vector=[0.5, i, 1.0, 0]) for i in range(7, 12)]
        )
        for _ in range(4):
            app.query_points("docs", query=QUERY, limit=3)
        refusals = [
            (stranger, QUERY, 3, grpc.StatusCode.FAILED_PRECONDITION),  # cross-version
            (anonymous, QUERY, 2, grpc.StatusCode.FAILED_PRECONDITION),  # no identity
            (app, [1.0, 0.0, 0.5], 1, grpc.StatusCode.INVALID_ARGUMENT),  # wrong dimension
        ]
        for client, query, times, code in refusals:
            for _ in range(times):
                with pytest.raises(grpc.RpcError) as excinfo:
                    client.query_points("docs", query=query, limit=3)
                assert excinfo.value.code() is code
        for i in range(5):  # stated versions nobody registered: one bounded label, "other"
            with pytest.raises(grpc.RpcError) as excinfo:
                gw.client(f"ghost{i}@1").query_points("docs", query=QUERY, limit=3)
            assert excinfo.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        content_type, samples = scrape(gw.http_port)

    assert content_type.startswith("text/plain; version=0.0.4")
    expected = {
        ("Collections/Create", "served", "", "emb@1"): 1,
        ("Points/Upsert", "routed", "docs", "emb@1"): 2,
        ("Points/Query", "routed", "docs", "emb@1"): 4,
        ("Points/Query", "refused", "docs", "emb@2"): 3,
        ("Points/Query", "refused", "docs", ""): 2,
        ("Points/Query", "refused", "docs", "emb@1"): 1,
        ("Points/Query", "refused", "docs", "other"): 5,
    }
    seen = {
        (
            dict(labels)["method"],
            dict(labels)["decision"],
            dict(labels)["collection"],
            dict(labels)["model_version"],
        ): count
        for (name, labels), count in samples.items()
        if name == "vecgate_requests_total"
    }
    assert seen == expected
    for (method, decision, collection, version), count in expected.items():
        labels = {
            "method": method,
            "decision": decision,
            "collection": collection,
            "model_version": version,
        }
        assert value(samples, "vecgate_request_duration_seconds_count", **labels) == count
        assert value(samples, "vecgate_request_duration_seconds_bucket", le="+Inf", **labels) == (
            count
        )
    refused = {
        dict(labels)["reason"]: (dict(labels)["code"], count)
        for (name, labels), count in samples.items()
        if name == "vecgate_refusals_total"
    }
    assert refused == {
        "cross_version": ("FAILED_PRECONDITION", 8),
        "missing_identity": ("FAILED_PRECONDITION", 2),
        "wrong_dimension": ("INVALID_ARGUMENT", 1),
    }
    assert (
        value(samples, "vecgate_points_written_total", collection="docs", model_version="emb@1")
        == 12
    )
    assert value(samples, "vecgate_model_days_to_sunset", model="emb@1") == 12
    assert value(samples, "vecgate_model_deprecation_state", model="emb@1") == 1  # near
    assert value(samples, "vecgate_model_deprecation_state", model="emb@2") == 0
    assert ("vecgate_model_days_to_sunset", (("model", "emb@2"),)) not in samples  # no date
