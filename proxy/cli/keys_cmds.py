"""`vecgate keys`: list API keys, add one at run time, remove one."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli import render
from proxy.cli.client import AdminClient
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit
from proxy.config import hash_key

app = typer.Typer(
    help="API keys (configured and added at run time): list, add, remove.",
    invoke_without_command=True,
)


class Role(StrEnum):
    """What a key may do."""

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"


Name = Annotated[str, typer.Argument(metavar="NAME", help="The key's name.")]


@app.callback()
def keys(
    *,
    ctx: typer.Context,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """API keys: name, role, identity, scope, source (never the secret)."""
    if ctx.invoked_subcommand is not None:
        return
    with AdminClient(target, admin_key, timeout) as admin:
        reply = admin.call("ListKeys", pb.ListKeysRequest(), pb.ListKeysReply)
    emit(reply, as_json, lambda: render.keys_table(reply.keys))


@app.command()
def add(
    *,
    name: Name,
    secret: Annotated[
        str | None,
        typer.Option("--secret", envvar="VECGATE_NEW_KEY", help="The key's secret (hashed here)."),
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Or the secret's SHA-256 (vecgate hash-key).")
    ] = None,
    identity: Annotated[
        str | None, typer.Option("--identity", help="name@version the key speaks for.")
    ] = None,
    role: Annotated[Role, typer.Option("--role", help="What the key may do.")] = Role.WRITER,
    collection: Annotated[
        list[str] | None,
        typer.Option("--collection", help="Limit the key to this collection (repeatable)."),
    ] = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Add a key; every vecgate on the same backend honours it (the secret never leaves here)."""
    if (secret is None) == (sha256 is None):
        raise typer.BadParameter("give exactly one of --secret and --sha256")
    request = pb.AddKeyRequest(
        name=name,
        sha256=sha256 if sha256 is not None else hash_key(secret or ""),
        identity=identity or "",
        role=role.value,
        collections=collection or [],
    )
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call("AddKey", request, pb.KeyView)
    emit(view, as_json, lambda: render.keys_table([view]))


@app.command()
def remove(
    *,
    name: Name,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Remove a key added at run time (keys of the configuration file are removed there)."""
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call("RemoveKey", pb.RemoveKeyRequest(name=name), pb.KeyView)
    emit(view, as_json, lambda: render.keys_table([view]))
