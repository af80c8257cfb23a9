"""`vecgate fingerprint` (register, show, check, clear) and `vecgate drift` (show, report, pin)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Group
from rich.table import Table
from rich.text import Text

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli.client import AdminClient
from proxy.cli.failure import Failure
from proxy.cli.migrate_cmds import EmbedSpec, load_function
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit, show
from proxy.drift.client import anchor_vectors
from proxy.drift.fingerprints import parse_anchors_jsonl
from proxy.drift.report_html import render
from proxy.errors import InvalidArgument

Model = Annotated[str, typer.Argument(metavar="MODEL@VERSION", help="A pinned model version.")]

fingerprint_app = typer.Typer(
    help="Model fingerprints: anchor texts with their vectors; a failed check makes the "
    "version suspect (writes refused until cleared).",
    no_args_is_help=True,
)


@fingerprint_app.command("register")
def register(
    *,
    model: Model,
    anchors: Annotated[
        Path,
        typer.Option(
            "--anchors", exists=True, dir_okay=False, help='JSON Lines: {"text", "vector"}.'
        ),
    ],
    digest: Annotated[str, typer.Option("--digest", help="The provider's digest.")] = "",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=0, help="Anchors per embedding call (0: all).")
    ] = 0,
    how: Annotated[str, typer.Option("--how", help="How the anchors were embedded.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing one.")] = False,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Register a version's anchors (texts and the vectors it gives them)."""
    try:
        texts, vectors = parse_anchors_jsonl(anchors.read_text(), str(anchors))
    except InvalidArgument as exc:
        raise Failure(exc.message) from None
    request = pb.RegisterFingerprintRequest(
        model=model, digest=digest, batch_size=batch_size, how=how, replace=replace
    )
    for text, vector in zip(texts, vectors, strict=True):
        request.anchors.add(text=text, vector=vector)
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call("RegisterFingerprint", request, pb.FingerprintView)
    emit(view, as_json, lambda: _fingerprint_view(view))


@fingerprint_app.command("show")
def show_fingerprint(
    *,
    model: Model,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """A version's anchors, state and history."""
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call(
            "GetFingerprint", pb.GetFingerprintRequest(model=model), pb.FingerprintView
        )
    emit(view, as_json, lambda: _fingerprint_view(view))


@fingerprint_app.command("check")
def check(
    *,
    model: Model,
    embed: EmbedSpec,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Embed the anchors with your function and compare: exit 0 on a match, 1 otherwise.

    The anchors are embedded in ONE call, in the registered order, as they were
    registered: a batch-dependent build (dynamic int8) gives other vectors otherwise.
    A failure marks the version suspect: writes under it are refused until cleared.
    """
    function = load_function(embed, "--embed")
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call(
            "GetFingerprint", pb.GetFingerprintRequest(model=model), pb.FingerprintView
        )
        try:
            vectors = anchor_vectors(list(view.texts), function)
        except (ValueError, TypeError) as exc:
            raise Failure(f"{embed}: {exc}") from None
        request = pb.VerifyFingerprintRequest(model=model)
        for vector in vectors:
            request.vectors.add().values.extend(vector)
        report = admin.call("VerifyFingerprint", request, pb.FingerprintReport)
    emit(report, as_json, lambda: _report_view(report))
    if not report.passed:
        raise typer.Exit(1)


@fingerprint_app.command("clear")
def clear(
    *,
    model: Model,
    note: Annotated[str, typer.Option("--note", help="Why (kept in the history).")] = "",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Accept writes under a suspect version again (an operator's decision)."""
    with AdminClient(target, admin_key, timeout) as admin:
        view = admin.call(
            "ClearSuspect", pb.ClearSuspectRequest(model=model, note=note), pb.FingerprintView
        )
    emit(view, as_json, lambda: _fingerprint_view(view))


def _fingerprint_view(view: pb.FingerprintView) -> Any:
    state = Text(view.state, style="red bold" if view.state == "suspect" else "green")
    lines: list[Any] = [
        Text.assemble(
            f"{view.model}: ",
            state,
            f" ({len(view.texts)} anchors, {view.dimension}-d, threshold {view.threshold})",
        ),
    ]
    if view.suspect_reason:
        lines.append(Text(f"suspect since {view.suspect_since}: {view.suspect_reason}"))
    if view.last_check:
        outcome = "passed" if view.last_passed else "failed"
        lines.append(Text(f"last check {view.last_check}: {outcome} ({view.checks} checks)"))
    if view.batch_size:
        lines.append(
            Text(
                f"embed all anchors in one call, in order, batch size {view.batch_size}"
                + (f"; {view.how}" if view.how else "")
            )
        )
    lines += [Text(f"  {line}", style="dim") for line in view.history]
    return Group(*lines)


def _report_view(report: pb.FingerprintReport) -> Any:
    verdict = Text(
        "match" if report.passed else "MISMATCH", style="green" if report.passed else "red bold"
    )
    lines: list[Any] = [
        Text.assemble(f"{report.model}: ", verdict, f" — {report.message}"),
        Text(
            f"min cosine {report.min_cosine:.6f}, mean {report.mean_cosine:.6f}, "
            f"threshold {report.threshold}; version state: {report.state}"
        ),
    ]
    lines += [Text(f"  below: {text}", style="yellow") for text in report.below[:10]]
    return Group(*lines)


# -- vecgate drift ------------------------------------------------------------------------------


class _DefaultShow(typer.core.TyperGroup):
    """`vecgate drift [COLLECTION]` means `vecgate drift show [COLLECTION]`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["show", *args]
        parsed: list[str] = super().parse_args(ctx, args)
        return parsed


drift_app = typer.Typer(
    cls=_DefaultShow,
    help="Drift statistics per version (this replica's): `vecgate drift [COLLECTION]`, "
    "`report --html FILE`, `pin`.",
)


def _get_drift(collection: str, detail: bool, target: str, key: str | None, timeout: float) -> Any:
    with AdminClient(target, key, timeout) as admin:
        return admin.call(
            "GetDrift", pb.GetDriftRequest(collection=collection, detail=detail), pb.DriftReply
        )


@drift_app.command("show")
def show_drift(
    *,
    collection: Annotated[str, typer.Argument(help="A logical collection (default: all).")] = "",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Scores and verdict per version: centroid distance, MMD, KS share, domain AUC."""
    reply = _get_drift(collection, False, target, admin_key, timeout)
    emit(reply, as_json, lambda: drift_table(reply))


@drift_app.command("report")
def report(
    *,
    html: Annotated[Path, typer.Option("--html", dir_okay=False, help="Write the page here.")],
    collection: Annotated[str, typer.Argument(help="A logical collection (default: all).")] = "",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """An HTML page with plots: scores over time, cosines reference vs recent."""
    reply = _get_drift(collection, True, target, admin_key, timeout)
    html.write_text(render(reply))
    show(Text(f"wrote {html} ({len(reply.partitions)} versions)"))


@drift_app.command("pin")
def pin(
    *,
    collection: Annotated[str, typer.Argument(help="The logical collection.")],
    version: Annotated[str, typer.Option("--version", help="name@version (default: active).")] = "",
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """The next vectors written under the version become its new reference window."""
    with AdminClient(target, admin_key, timeout) as admin:
        reply = admin.call(
            "PinDriftReference",
            pb.PinDriftReferenceRequest(collection=collection, version=version),
            pb.DriftReply,
        )
    emit(reply, as_json, lambda: drift_table(reply))


_VERDICT_STYLE = {"model": "red bold", "unknown": "yellow", "content": "cyan", "none": "green"}


def drift_table(reply: pb.DriftReply) -> Any:
    """One row per watched version, then each alarm's evidence and next step."""
    table = Table(title="drift (this replica, since start)", title_justify="left")
    for column in (
        "collection",
        "version",
        "vectors",
        "centroid",
        "threshold",
        "MMD p",
        "KS share",
        "AUC",
        "re-upserts",
        "verdict",
    ):
        table.add_column(
            column, justify="left" if column in ("collection", "version", "verdict") else "right"
        )
    notes: list[Any] = []
    for p in reply.partitions:
        scored = p.HasField("latest")
        s = p.latest

        def cell(value: float, fmt: str, scored: bool = scored) -> str:
            return format(value, fmt) if scored else "—"

        table.add_row(
            p.collection,
            p.version,
            str(p.vectors),
            cell(s.centroid_distance, ".4f"),
            cell(s.threshold, ".4f"),
            cell(s.mmd_p_value, ".3f"),
            cell(s.drifted_share, ".2f"),
            cell(s.domain_auc, ".3f"),
            f"{p.reupserts_diverged}/{p.reupserts_checked}",
            Text(p.verdict, style=_VERDICT_STYLE.get(p.verdict, "")),
        )
        if p.verdict in ("model", "content", "unknown"):
            notes.append(Text(f"{p.collection} {p.version}: {p.evidence}"))
            if p.next_step:
                notes.append(Text(f"  next: {p.next_step}", style="dim"))
    footer = Text(
        f"batches offered {reply.offered}, dropped {reply.dropped}, queued {reply.queued}",
        style="dim",
    )
    return Group(table, *notes, footer)
