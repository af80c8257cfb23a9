"""Options shared by the client commands: where vecgate is, the admin key, timeout, JSON."""

from __future__ import annotations

from typing import Annotated

import typer

DEFAULT_TARGET = "127.0.0.1:6334"
TARGET_ENV = "VECGATE_TARGET"
ADMIN_KEY_ENV = "VECGATE_ADMIN_KEY"
DEFAULT_TIMEOUT = 10.0


def _check_target(target: str) -> str:
    """Accept ``host:port`` (``[v6]:port`` for IPv6) with a numeric port."""
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{target!r} is not host:port, e.g. {DEFAULT_TARGET}")
    return target


Target = Annotated[
    str,
    typer.Option(
        "--target",
        envvar=TARGET_ENV,
        callback=_check_target,
        help="vecgate's gRPC address, host:port.",
    ),
]
AdminKey = Annotated[
    str | None,
    typer.Option(
        "--admin-key",
        envvar=ADMIN_KEY_ENV,
        show_default=False,
        help="An API key with the admin role, sent as `api-key` metadata.",
    ),
]
Timeout = Annotated[
    float,
    typer.Option("--timeout", min=0.1, help="Seconds to wait for an answer."),
]
AsJson = Annotated[
    bool,
    typer.Option("--json", help="Print the reply as JSON: every field, proto field names."),
]
