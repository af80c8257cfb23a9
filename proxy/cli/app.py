"""The `vecgate` command: every sub-command on one typer app, and `main` with its exit codes."""

from __future__ import annotations

from collections.abc import Sequence

import typer
import typer.main

from proxy.cli import bridge_cmds, config_cmds, drift_cmds, keys_cmds, migrate_cmds, models_cmds
from proxy.cli.explain_cmd import explain
from proxy.cli.failure import ExitCode, Failure
from proxy.cli.inspect_cmds import collections, status
from proxy.cli.output import print_reason
from proxy.cli.requests_cmd import inspect
from proxy.cli.serve_cmds import hash_key_cmd, serve

app = typer.Typer(
    name="vecgate",
    help=(
        "A Qdrant-compatible gRPC gateway that keeps embedding model versions apart. "
        "Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 vecgate unreachable."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command("hash-key")(hash_key_cmd)
app.add_typer(config_cmds.app, name="config")
app.command()(status)
app.command()(collections)
app.add_typer(models_cmds.app, name="models")
app.command()(explain)
app.add_typer(keys_cmds.app, name="keys")
app.add_typer(migrate_cmds.app, name="migrate")
app.add_typer(bridge_cmds.app, name="bridge")
app.command()(inspect)
app.add_typer(drift_cmds.fingerprint_app, name="fingerprint")
# The spelling, `vecgate models fingerprint register`, reaches the same commands.
models_cmds.app.add_typer(drift_cmds.fingerprint_app, name="fingerprint")
app.add_typer(drift_cmds.drift_app, name="drift")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vecgate` command; returns its exit code."""
    command = typer.main.get_command(app)
    try:
        command.main(
            args=None if argv is None else list(argv), prog_name="vecgate", standalone_mode=True
        )
    except Failure as failure:
        print_reason(failure.reason)
        return int(failure.code)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print_reason(str(done.code))
        return int(ExitCode.REFUSED)
    return int(ExitCode.OK)
