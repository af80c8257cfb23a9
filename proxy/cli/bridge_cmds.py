"""`vecgate bridge`: answer one model version's queries from another's index, through a
learned map, as an operator's explicit and measured decision.

train -> (look at the figures) -> enable ... disable; `show` lists bridges, `export`
writes a map to a file. Each command is one Admin RPC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli.client import AdminClient
from proxy.cli.failure import Failure
from proxy.cli.options import DEFAULT_TARGET, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit, print_json, show

app = typer.Typer(
    help=(
        "Bridge one model version's queries into another's index through a learned map: "
        "train, enable, disable, show, export."
    ),
    no_args_is_help=True,
)

Collection = Annotated[str, typer.Argument(help="The logical collection.")]
From = Annotated[
    str, typer.Option("--from", help="name@version whose queries are mapped (the new model).")
]
To = Annotated[str, typer.Option("--to", help="name@version whose index answers (the old one).")]
TRAIN_TIMEOUT = 600.0


def _call(rpc: str, request: Any, reply: Any, connection: tuple[str, str | None, float]) -> Any:
    """One Admin RPC at (target, admin key, timeout)."""
    with AdminClient(*connection) as admin:
        return admin.call(rpc, request, reply)


def _read_queries(path: Path) -> list[pb.BridgeQuery]:
    """JSON Lines: {"from_vector": [...], "to_vector": [...], "relevant_ids": [...]}."""
    queries = []
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise typer.BadParameter(str(error), param_hint="--queries") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            queries.append(
                pb.BridgeQuery(
                    from_vector=entry["from_vector"],
                    to_vector=entry["to_vector"],
                    relevant_ids=[str(i) for i in entry.get("relevant_ids") or ()],
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise typer.BadParameter(
                f"line {number}: needs from_vector and to_vector (numbers): {error}",
                param_hint="--queries",
            ) from None
    return queries


def map_text(kind: str, rank: int) -> str:
    """``ridge_identity`` or ``ridge_identity, rank 16``."""
    return f"{kind}, rank {rank}" if rank else kind


def bridge_view(view: pb.BridgeView) -> RenderableType:
    """The figures of a bridge's training, its chosen map against no map, and the floor."""
    head = Text(
        f"`{view.collection}`: {view.from_version} -> {view.to_version}, map v{view.version} "
        f"({map_text(view.kind, view.rank)}, {view.dimension_in}x{view.dimension_out}), "
        f"{view.state}; "
        f"{view.fit_pairs} pairs fitted of {view.pairs}, {view.held_out} held out"
    )
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), title_justify="left")
    table.add_column("judged on")
    table.add_column("map")
    table.add_column(f"top-{view.k} overlap", justify="right")
    table.add_column(f"recall@{view.k}", justify="right")
    for item in view.sets:
        where = f"{item.name} ({item.queries}, {item.labelled} labelled)"
        table.add_row(where, f"{view.to_version}'s own", "1.000", f"{item.reference_recall:.3f}")
        if item.comparable:
            table.add_row("", "no map", f"{item.no_map.overlap:.3f}", f"{item.no_map.recall:.3f}")
        else:
            table.add_row("", "no map", "not comparable", "—")
        for kind in sorted(item.maps):
            figures = item.maps[kind]
            style = "bold" if kind == view.kind else ""
            table.add_row(
                "",
                kind + (" (chosen)" if kind == view.kind else ""),
                f"{figures.overlap:.3f}",
                f"{figures.recall:.3f}",
                style=style,
            )
    floor = (
        Text("clears the floor", style="green")
        if view.passed
        else Text("below the floor: " + "; ".join(view.floor_reasons), style="yellow")
    )
    return Group(head, table, floor)


@app.command()
def train(
    *,
    collection: Collection,
    source: From,
    to: To,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            help='Golden queries, JSON Lines: {"from_vector", "to_vector", "relevant_ids"}.',
        ),
    ] = None,
    holdout: Annotated[
        float, typer.Option("--holdout", min=0.0, max=0.9, help="Share of pairs held out.")
    ] = 0.0,
    fit_share: Annotated[
        float,
        typer.Option("--fit-share", min=0.0, max=0.9, help="Share of all pairs to fit on."),
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the split.")] = 0,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Top-k compared.")] = 10,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = TRAIN_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Fit maps on the paired vectors of both versions and judge them; stored disabled."""
    request = pb.TrainBridgeRequest(
        collection=collection,
        from_version=source,
        to_version=to,
        holdout=holdout,
        fit_share=fit_share,
        seed=seed,
        k=k,
        queries=_read_queries(queries) if queries else [],
    )
    view = _call("TrainBridge", request, pb.BridgeView, (target, admin_key, timeout))
    emit(view, as_json, lambda: bridge_view(view))


@app.command()
def enable(
    *,
    collection: Collection,
    source: From,
    to: Annotated[str, typer.Option("--to", help="Checked against the trained bridge.")] = "",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = 10.0,
    as_json: AsJson = False,
) -> None:
    """Answer the from-version's searches from the to-version's index (above the floor)."""
    request = pb.EnableBridgeRequest(collection=collection, from_version=source, to_version=to)
    view = _call("EnableBridge", request, pb.BridgeView, (target, admin_key, timeout))
    emit(view, as_json, lambda: Text(f"bridge {_label(view)} of `{collection}` enabled"))


@app.command()
def disable(
    *,
    collection: Collection,
    source: From,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = 10.0,
    as_json: AsJson = False,
) -> None:
    """Refuse (or route natively) the from-version's searches again, at once."""
    request = pb.DisableBridgeRequest(collection=collection, from_version=source)
    view = _call("DisableBridge", request, pb.BridgeView, (target, admin_key, timeout))
    emit(view, as_json, lambda: Text(f"bridge {_label(view)} of `{collection}` disabled"))


@app.command("show")
def show_cmd(
    *,
    collection: Annotated[str, typer.Argument(help="One collection (default: all).")] = "",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = 10.0,
    as_json: AsJson = False,
) -> None:
    """Every bridge with its state and the figures of its training."""
    request = pb.ListBridgesRequest(collection=collection)
    reply = _call("ListBridges", request, pb.ListBridgesReply, (target, admin_key, timeout))
    if as_json:
        print_json(reply)
        return
    if not reply.bridges:
        show(Text("no bridges"))
    for view in reply.bridges:
        show(bridge_view(view))


@app.command()
def export(
    *,
    collection: Collection,
    source: From,
    out: Annotated[Path, typer.Option("--out", help="An .npz file: weights, bias, version.")],
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = 30.0,
) -> None:
    """Write a bridge's map (float32 weights and bias) to an .npz file."""
    request = pb.ExportBridgeRequest(collection=collection, from_version=source)
    reply = _call("ExportBridge", request, pb.BridgeMap, (target, admin_key, timeout))
    weights = np.frombuffer(reply.weights, dtype="<f4").reshape(
        reply.dimension_in, reply.dimension_out
    )
    bias = np.frombuffer(reply.bias, dtype="<f4")
    try:
        np.savez(
            out, weights=weights, bias=bias, version=reply.version, kind=reply.kind, rank=reply.rank
        )
    except OSError as error:
        raise Failure(f"cannot write {out}: {error}") from None
    show(Text(f"map v{reply.version} ({map_text(reply.kind, reply.rank)}) written to {out}"))


def _label(view: pb.BridgeView) -> str:
    return f"{view.from_version} -> {view.to_version} v{view.version}"
