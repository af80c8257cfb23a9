"""`vecgate models`: list known model versions, register one, update one."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

import typer

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli import render
from proxy.cli.client import AdminClient
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit

app = typer.Typer(
    help="Known model versions, flagged near or past their sunset; register and update them.",
    invoke_without_command=True,
)


class Distance(StrEnum):
    """The distances a model's vectors are compared with."""

    COSINE = "Cosine"
    EUCLID = "Euclid"
    DOT = "Dot"
    MANHATTAN = "Manhattan"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_sunset(value: str | None) -> str | None:
    """A sunset date is YYYY-MM-DD; `update` also takes "" to clear it."""
    if not value:
        return value
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date as YYYY-MM-DD") from None
    return value


Model = Annotated[str, typer.Argument(metavar="MODEL@VERSION", help="A pinned model version.")]
Digest = Annotated[
    str | None, typer.Option("--digest", help="The provider's digest of the weights.")
]
Notes = Annotated[str | None, typer.Option("--notes", help="Free text shown next to the model.")]


@app.callback()
def models(
    *,
    ctx: typer.Context,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Known model versions: shape, source, collections, days to sunset (yellow near, red past)."""
    if ctx.invoked_subcommand is not None:
        return
    with AdminClient(target, admin_key, timeout) as admin:
        reply = admin.call("ListModels", pb.ListModelsRequest(), pb.ListModelsReply)
    emit(reply, as_json, lambda: render.models_table(reply.models))


@app.command()
def register(
    *,
    model: Model,
    dimension: Annotated[int, typer.Option("--dimension", min=1, help="Vector dimension.")],
    distance: Annotated[
        Distance, typer.Option("--distance", case_sensitive=False, help="Vector distance.")
    ],
    digest: Digest = None,
    sunset: Annotated[
        str | None,
        typer.Option("--sunset", callback=_check_sunset, help="Provider's sunset, YYYY-MM-DD."),
    ] = None,
    notes: Notes = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Register a model version (ALREADY_EXISTS if vecgate knows it)."""
    request = pb.RegisterModelRequest(
        model=model,
        dimension=dimension,
        distance=distance.value,
        digest=digest or "",
        sunset=sunset or "",
        notes=notes or "",
    )
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call("RegisterModel", request, pb.ModelView)
    _print_model(view, as_json, "registered")


@app.command()
def update(
    *,
    model: Model,
    digest: Digest = None,
    sunset: Annotated[
        str | None,
        typer.Option(
            "--sunset", callback=_check_sunset, help='New sunset, YYYY-MM-DD; "" clears it.'
        ),
    ] = None,
    notes: Notes = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Change the digest, sunset date or notes of a registered model version."""
    if digest is None and sunset is None and notes is None:
        raise typer.BadParameter("nothing to change: give --digest, --sunset or --notes")
    request = pb.UpdateModelRequest(model=model)
    if digest is not None:
        request.digest = digest
    if sunset is not None:
        request.sunset = sunset
    if notes is not None:
        request.notes = notes
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call("UpdateModel", request, pb.ModelView)
    _print_model(view, as_json, "updated")


def _print_model(view: pb.ModelView, as_json: bool, done: str) -> None:
    """The model as vecgate now knows it."""
    emit(
        view,
        as_json,
        lambda: render.models_table([view], title=f"{done} {view.name}@{view.version}"),
    )
