"""[telemetry]: the file, the standard OTEL_* variables and VECGATE_TELEMETRY_*, in that order."""

from __future__ import annotations

import pytest

from proxy.config import ConfigError, load_config
from proxy.telemetry.inspection import Match, RequestRecord
from proxy.telemetry.propagation import new_ids, parse_traceparent
from proxy.telemetry.tracing import make_sampler

FILE = """
[telemetry]
endpoint = "http://file-collector:4317"
service_name = "from-file"
sample_ratio = 0.5
[telemetry.headers]
x-tenant = "file"
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "vecgate.toml"
    path.write_text(FILE)
    return path


def test_off_by_default_and_on_with_the_endpoint_alone(tmp_path):
    """No endpoint: no export. One setting (file or OTEL_EXPORTER_OTLP_ENDPOINT) turns it on."""
    assert load_config(environ={}).telemetry.endpoint is None
    path = tmp_path / "one.toml"
    path.write_text('[telemetry]\nendpoint = "https://collector:4317"\n')
    assert load_config(path, environ={}).telemetry.endpoint == "https://collector:4317"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317"}
    assert load_config(environ=env).telemetry.endpoint == "http://otel:4317"


def test_otel_variables_beat_the_file_and_vecgate_variables_beat_both(config_file):
    """file < OTEL_* < VECGATE_TELEMETRY_*; the traces-specific OTEL variables win."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4317",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://otel-traces:4317",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc,X-Tenant=ops",
        "OTEL_SERVICE_NAME": "from-otel",
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
    }
    telemetry = load_config(config_file, environ=env).telemetry
    assert telemetry.endpoint == "http://otel-traces:4317"
    assert telemetry.headers == {"authorization": "Bearer abc", "x-tenant": "ops"}
    assert telemetry.service_name == "from-otel"
    assert (telemetry.sample_ratio, telemetry.follow_parent) == (0.25, False)
    env |= {"VECGATE_TELEMETRY_SERVICE_NAME": "from-vecgate", "VECGATE_TELEMETRY_HEADERS": "a=b"}
    telemetry = load_config(config_file, environ=env).telemetry
    assert (telemetry.service_name, telemetry.headers) == ("from-vecgate", {"a": "b"})
    assert load_config(config_file, environ={}).telemetry.service_name == "from-file"


@pytest.mark.parametrize(
    ("env", "off"),
    [({"OTEL_SDK_DISABLED": "true"}, True), ({"OTEL_TRACES_EXPORTER": "none"}, True), ({}, False)],
)
def test_standard_switches_turn_export_off_over_the_file(config_file, env, off):
    """OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn export off whatever the file."""
    endpoint = load_config(config_file, environ=env).telemetry.endpoint
    assert (endpoint is None) is off


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"OTEL_TRACES_SAMPLER": "jaeger_remote"}, "parentbased_traceidratio"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "x"}, "ratio"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTLP gRPC only"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            "gRPC only",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "http://host:4317"),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "novalue"}, "key=value"),
        ({"VECGATE_TELEMETRY_SAMPLE_RATIO": "2"}, "less than or equal to 1"),
    ],
)
def test_unsupported_or_malformed_settings_stop_start_up_with_a_sentence(env, words):
    """No silent fallback: what vecgate cannot honour is a ConfigError saying what works."""
    with pytest.raises(ConfigError, match=words):
        load_config(environ=env)


def test_sampler_follows_the_parent_unless_told_not_to():
    """parentbased_* (the default) keeps the client's sampled flag; traceidratio does not."""
    config = load_config(environ={"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"})
    assert "ParentBased" in make_sampler(config.telemetry).get_description()
    config = load_config(environ={"OTEL_TRACES_SAMPLER": "always_off"})
    assert make_sampler(config.telemetry).get_description().startswith("TraceIdRatioBased{0")


def test_traceparent_parsing_and_ids_without_export():
    """A valid traceparent's trace id is kept; an invalid one gets a fresh random id."""
    tid, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    assert parse_traceparent(f"00-{tid}-{parent}-01") == (tid, parent)
    for bad in ("00-xyz", f"00-{'0' * 32}-{parent}-01", f"ff-{tid}-{parent}-01", None):
        assert parse_traceparent(bad) is None
    trace_id, span_id = new_ids(f"00-{tid}-{parent}-01")
    assert trace_id == tid
    assert len(span_id) == 16
    assert span_id != parent
    fresh, _ = new_ids("garbage")
    assert len(fresh) == 32
    assert fresh != new_ids(None)[0]


def test_record_filters():
    """--refused, --collection (client name or logical), --model, --trace (prefix)."""
    record = RequestRecord(
        seq=1, at=0.0, method="Points/Query", collection="alias", logical="docs",
        partition="p", identity="image=clip@1, text=minilm@2", identity_source="header",
        key="", decision="refused", reason="cross_version", status="FAILED_PRECONDITION",
        message="m", latency_ms=1.0, policy_ms=0.1, backend_ms=0.0, trace_id="ab" * 16,
        span_id="cd" * 8, sampled=False, points=0, vectors=1, dimension=4,
    )  # fmt: skip
    assert Match(refused_only=True, collection="docs", model="minilm@2")(record)
    assert Match(collection="alias", trace_id="abab" * 2)(record)
    assert not Match(model="minilm@1")(record)
    assert not Match(collection="other")(record)
    assert not Match(trace_id="ff" * 16)(record)
    record.decision = "routed"
    assert not Match(refused_only=True)(record)
