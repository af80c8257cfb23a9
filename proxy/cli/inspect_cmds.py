"""Read-only client commands: `vecgate status`, `vecgate collections [NAME]`, `vecgate keys`."""

from __future__ import annotations

from typing import Annotated

import typer

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli import render
from proxy.cli.client import AdminClient
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit


def status(
    *,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Versions, counts, backend and models near or past their sunset."""
    with AdminClient(target, admin_key, timeout) as admin:
        reply = admin.call("Status", pb.StatusRequest(), pb.StatusReply)
    emit(reply, as_json, lambda: render.status_view(reply))


def collections(
    *,
    name: Annotated[
        str | None,
        typer.Argument(help="Describe one collection (a logical name or a user alias)."),
    ] = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Logical collections, one row per version, the active one marked."""
    if name is None:
        with AdminClient(target, admin_key, timeout) as admin:
            listed = admin.call(
                "ListCollections", pb.ListCollectionsRequest(), pb.ListCollectionsReply
            )
        emit(listed, as_json, lambda: render.collections_table(listed.collections))
        return
    with AdminClient(target, admin_key, timeout) as admin:
        request = pb.DescribeCollectionRequest(name=name)
        view = admin.call("DescribeCollection", request, pb.CollectionView)
    emit(view, as_json, lambda: render.collection_detail(view))
