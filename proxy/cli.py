"""The `vecgate` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proxy.config import ConfigError, hash_key, load_config


def _serve_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "server": {
            "host": args.host,
            "grpc_port": args.grpc_port,
            "http_port": args.http_port,
            "data_dir": args.data_dir,
        }
    }


def _cmd_serve(args: argparse.Namespace) -> int:
    from proxy.logs import configure_logging
    from proxy.server import serve

    try:
        config = load_config(args.config, _serve_overrides(args))
    except ConfigError as exc:
        print(f"vecgate: {exc}", file=sys.stderr)
        return 2
    configure_logging(args.log_level)
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"vecgate: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_hash_key(args: argparse.Namespace) -> int:
    print(hash_key(args.key))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="vecgate",
        description="A Qdrant-compatible gRPC gateway that keeps embedding model versions apart.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway (flags beat the config file)")
    serve.add_argument("--config", type=Path, help="TOML configuration file")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--grpc-port", type=int, help="gRPC port (default 6334; 0 = any free)")
    serve.add_argument("--http-port", type=int, help="HTTP port (default 6333; 0 = any free)")
    serve.add_argument("--data-dir", type=Path, help="data directory (default ./vecgate-data)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_cmd_serve)

    hashed = commands.add_parser("hash-key", help="print the SHA-256 to store for an API key")
    hashed.add_argument("key")
    hashed.set_defaults(func=_cmd_hash_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vecgate` command."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
