"""Telemetry: tracing (OpenTelemetry, OTLP gRPC), the request log line, Prometheus metrics
and the in-memory record of recent requests that `vecgate inspect` streams.

Backends that call another server forward the trace with `trace_headers()`:

    from proxy.telemetry.propagation import trace_headers
    metadata = tuple(trace_headers().items())  # (("traceparent", "00-..."),) or ()
"""
