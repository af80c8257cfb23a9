"""`vecgate config check FILE`: validate a configuration file offline and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from proxy.cli.failure import Failure
from proxy.cli.output import show
from proxy.config import Config, ConfigError, KeyConfig, ModelConfig, load_config

app = typer.Typer(help="Configuration files.", no_args_is_help=True)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The TOML file `vecgate serve --config` reads.")],
) -> None:
    """Validate FILE as `vecgate serve` would (without the environment); exit 1 if invalid."""
    try:
        config = load_config(file, environ={})
    except ConfigError as exc:
        raise Failure(str(exc)) from None
    show(summary(file, config))


def _key_line(key: KeyConfig) -> str:
    identity = key.identity or "no identity"
    return f"{key.name}: {key.role}, {identity}, collections {', '.join(key.collections)}"


def _model_line(model: ModelConfig) -> str:
    shape = " ".join(str(part) for part in (model.dimension, model.distance) if part) or "shape ?"
    sunset = f", sunset {model.sunset.isoformat()}" if model.sunset else ""
    return f"{model.name}: {shape}{sunset}"


def summary(file: Path, config: Config) -> RenderableType:
    """What the file sets: listeners, keys, models and default identities."""
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    server = config.server
    table.add_row(
        "listen",
        f"{server.host}: gRPC {server.grpc_port}, HTTP {server.http_port}; "
        f"data in {server.data_dir}",
    )
    table.add_row("backend", config.backend.url)
    keys = [_key_line(key) for key in config.keys] or ["none (every client is anonymous)"]
    table.add_row(f"keys ({len(config.keys)})", "\n".join(keys))
    models = [_model_line(model) for model in config.models] or ["none"]
    table.add_row(f"models ({len(config.models)})", "\n".join(models))
    per_collection = [f"{name} → {ident}" for name, ident in config.identity.collections.items()]
    defaults = [
        f"identity: {config.identity.default or 'none'}",
        f"per collection: {', '.join(per_collection) or 'none'}",
        f"deprecation: warn {config.deprecation.warn_days} days before a sunset, "
        f"{config.deprecation.on_sunset} after it",
    ]
    table.add_row("defaults", "\n".join(defaults))
    return Group(Text.assemble((f"{file}", "bold"), ": ", ("valid", "bold green")), table)
