"""The `vecgate` command line (typer + rich): serve, hash-key, config check, admin client.

`main` runs it; each module has one job (options, client, output, render, commands).
"""

from proxy.cli.app import app, main

__all__ = ["app", "main"]
