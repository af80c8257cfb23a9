"""The standard OpenTelemetry environment variables, read into vecgate's [telemetry] section.

Honoured (OpenTelemetry's meaning): ``OTEL_EXPORTER_OTLP_ENDPOINT`` and
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (setting one turns export on),
``OTEL_EXPORTER_OTLP_HEADERS`` / ``..._TRACES_HEADERS``, ``OTEL_SERVICE_NAME``,
``OTEL_TRACES_SAMPLER`` (+ ``_ARG``), ``OTEL_SDK_DISABLED``, ``OTEL_TRACES_EXPORTER``
(``otlp`` or ``none``) and ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc`` only). The
exporter itself still reads the others (``..._TIMEOUT``, ``..._COMPRESSION``,
``..._CERTIFICATE``), and the SDK ``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_BSP_*``.

Precedence: the config file < ``OTEL_*`` < ``VECGATE_TELEMETRY_*`` < flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from proxy.config import ConfigError

#: OTEL_TRACES_SAMPLER values vecgate implements: (follow_parent, fixed ratio or None = _ARG).
SAMPLERS: dict[str, tuple[bool, float | None]] = {
    "always_on": (False, 1.0),
    "always_off": (False, 0.0),
    "traceidratio": (False, None),
    "parentbased_always_on": (True, 1.0),
    "parentbased_always_off": (True, 0.0),
    "parentbased_traceidratio": (True, None),
}


def parse_headers(text: str, *, where: str) -> dict[str, str]:
    """``key=value,key2=value2`` (values URL-encoded, as OTEL_EXPORTER_OTLP_HEADERS)."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"{where}: {item.strip()!r} is not key=value; write e.g. "
                "'authorization=Bearer%20TOKEN,x-tenant=ops'"
            )
        headers[key.strip().lower()] = unquote(value.strip())
    return headers


def _sampler(environ: Mapping[str, str]) -> dict[str, Any]:
    name = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if not name:
        return {}
    if name not in SAMPLERS:
        raise ConfigError(
            f"OTEL_TRACES_SAMPLER={name!r} is not supported by vecgate; use one of "
            f"{', '.join(SAMPLERS)}"
        )
    follow_parent, ratio = SAMPLERS[name]
    if ratio is None:
        arg = environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0").strip()
        try:
            ratio = float(arg)
        except ValueError:
            raise ConfigError(
                f"OTEL_TRACES_SAMPLER_ARG={arg!r} is not a number; {name} needs a ratio "
                "between 0 and 1, e.g. 0.25"
            ) from None
    return {"follow_parent": follow_parent, "sample_ratio": ratio}


def otel_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """[telemetry] settings from the ``OTEL_*`` variables present in `environ`."""
    out: dict[str, Any] = {}
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if endpoint:
        out["endpoint"] = endpoint.strip()
    headers = environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or environ.get(
        "OTEL_EXPORTER_OTLP_HEADERS"
    )
    if headers:
        try:
            out["headers"] = parse_headers(headers, where="OTEL_EXPORTER_OTLP_HEADERS")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    service = environ.get("OTEL_SERVICE_NAME", "").strip()
    if service:
        out["service_name"] = service
    out.update(_sampler(environ))
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    exporter = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter not in ("otlp", "none"):
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER={exporter!r} is not supported: vecgate exports traces over "
            "OTLP gRPC only (otlp), or not at all (none)"
        )
    if exporter == "otlp" and protocol != "grpc" and "endpoint" in out:
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: vecgate exports "
            "traces over OTLP gRPC only; point it at the collector's gRPC port (4317) "
            "and set the protocol to grpc"
        )
    if exporter == "none" or environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        out["endpoint"] = ""  # off, whatever the file says
    return out
