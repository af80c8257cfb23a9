"""`vecgate serve` (run the gateway) and `vecgate hash-key` (the digest to store for a key)."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from proxy.cli.failure import ExitCode, Failure
from proxy.cli.options import ADMIN_KEY_ENV
from proxy.config import ConfigError, hash_key, load_config
from proxy.errors import VecgateError


class LogLevel(StrEnum):
    """How much vecgate logs on stderr."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _overrides(
    host: str | None,
    grpc_port: int | None,
    http_port: int | None,
    data_dir: Path | None,
    backend: str | None,
) -> dict[str, Any]:
    """The flags as configuration overrides (unset flags leave the file's values)."""
    return {
        "server": {
            "host": host,
            "grpc_port": grpc_port,
            "http_port": http_port,
            "data_dir": data_dir,
        },
        "backend": {"url": backend},
    }


def serve(
    *,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML configuration file.")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen address (default 127.0.0.1).")
    ] = None,
    grpc_port: Annotated[
        int | None, typer.Option("--grpc-port", help="gRPC port (default 6334; 0 = any free).")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option("--http-port", help="HTTP port (default 6333; 0 = any free).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default ./vecgate-data)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            "--backend",
            help=(
                "embedded (default), qdrant://HOST:6334, qdrants://HOST:6334 (TLS), "
                "milvus://HOST:19530 or milvus-lite:PATH."
            ),
        ),
    ] = None,
    log_level: Annotated[LogLevel, typer.Option("--log-level", help="Log level.")] = (
        LogLevel.INFO
    ),
    admin_key: Annotated[
        str | None,
        typer.Option(
            "--admin-key",
            envvar=ADMIN_KEY_ENV,
            show_default=False,
            help="Accept this key with the admin role (quick start; files store hashes).",
        ),
    ] = None,
) -> None:
    """Run the gateway (flags beat the config file, which beats the defaults)."""
    from proxy.heap import keep_large_buffers
    from proxy.logs import configure_logging
    from proxy.server import serve as run

    try:
        loaded = load_config(
            config, _overrides(host, grpc_port, http_port, data_dir, backend), admin_key=admin_key
        )
    except ConfigError as exc:
        raise Failure(str(exc), ExitCode.USAGE) from None
    configure_logging(log_level.value)
    keep_large_buffers()
    try:
        asyncio.run(run(loaded))
    except (OSError, VecgateError) as exc:  # cannot listen, or the backend refused us
        raise Failure(str(exc)) from None


def hash_key_cmd(key: Annotated[str, typer.Argument(help="The API key to hash.")]) -> None:
    """Print the SHA-256 to store for an API key (the `sha256` of its keys entry)."""
    print(hash_key(key))
