"""`vecgate explain`: where a request would go, or its exact refusal, without sending it."""

from __future__ import annotations

from typing import Annotated

import typer

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli import render
from proxy.cli.client import AdminClient
from proxy.cli.failure import ExitCode, Failure
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit

OPERATIONS = "search, query, recommend, upsert, update_vectors, get, scroll, count, delete_points"


def explain(
    *,
    collection: Annotated[
        str, typer.Option("--collection", "-c", help="The collection the request names.")
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="The identity it sends in x-embedding-model."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="The api-key it sends (instead of --model)."),
    ] = None,
    operation: Annotated[
        str, typer.Option("--op", help=f"The operation: {OPERATIONS}.")
    ] = "search",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Dry run: which partition a request would reach, or why it would be refused.

    Exits 0 when the request would be routed; 1 when it would be refused, with the
    status and message on stderr too. With neither --model nor --api-key it explains
    a request that sends neither.
    """
    if model is not None and api_key is not None:
        raise typer.BadParameter("give --model or --api-key, not both")
    request = pb.ExplainRequest(collection=collection, operation=operation)
    if model is not None:
        request.identity = model
    elif api_key is not None:
        request.api_key = api_key
    with AdminClient(target, admin_key, timeout) as admin:
        reply = admin.call("Explain", request, pb.ExplainReply)
    emit(reply, as_json, lambda: render.explain_view(reply))
    if not reply.allowed:
        raise Failure(f"{reply.status}: {reply.message}", ExitCode.REFUSED)
