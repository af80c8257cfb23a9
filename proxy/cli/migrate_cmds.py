"""`vecgate migrate`: move a collection to a new model version like a schema migration.

start → backfill → verify → cutover (→ rollback) → retire → drop, with `status` and
`history` to watch it. Each command is one Admin RPC except `backfill` (the backlog
stream plus upserts, see `proxy.migrate_backfill`) and `verify` with `--embed-*`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from google.protobuf.message import Message
from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli.client import AdminClient
from proxy.cli.failure import ExitCode, Failure
from proxy.cli.models_cmds import Distance
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import emit, show

app = typer.Typer(
    help=(
        "Move a collection to a new model version: start, backfill, verify, cutover "
        "(rollback), retire, drop; status and history."
    ),
    no_args_is_help=True,
)

if TYPE_CHECKING:  # the backfill imports qdrant-client: only `migrate backfill` loads it
    from proxy.migrate_backfill import BackfillStats, Embed

Reply = TypeVar("Reply", bound=Message)

Collection = Annotated[str, typer.Argument(help="The logical collection being migrated.")]
EmbedSpec = Annotated[
    str,
    typer.Option(
        "--embed",
        metavar="MODULE:FUNCTION",
        help="Your embedding function, texts → vectors (MODULE importable from here).",
    ),
]

_NONE = Text("—", style="dim")
_EMBED_CHUNK = 256


# -- shared helpers ------------------------------------------------------------------------


def _call(
    rpc: str,
    request: Message,
    reply_type: type[Reply],
    connection: tuple[str, str | None, float],
) -> Reply:
    """One Admin RPC at (target, admin key, timeout)."""
    target, admin_key, timeout = connection
    with AdminClient(target, admin_key, timeout) as admin:
        return admin.call(rpc, request, reply_type)


def load_function(spec: str, option: str) -> Embed:
    """Import `module:function` with the current directory on the import path."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise typer.BadParameter(f"{spec!r} is not MODULE:FUNCTION", param_hint=option)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise typer.BadParameter(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}", param_hint=option
        ) from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise typer.BadParameter(f"{module_name!r} has no function {attr!r}", param_hint=option)
    return _guarded(spec, function)


def _guarded(spec: str, function: Callable[..., Any]) -> Embed:
    """The user's function, its own errors turned into a one-line failure naming it."""

    def embed(texts: list[str]) -> Sequence[Sequence[float]]:
        try:
            vectors: Sequence[Sequence[float]] = function(texts)
        except Exception as error:
            raise Failure(f"{spec} raised {type(error).__name__}: {error}") from None
        return vectors

    return embed


def _seconds(value: float) -> str:
    """A duration for people: 0.4s, 42s, 3m 05s, 2h 10m."""
    if value < 10:
        return f"{value:.1f}s"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


# -- rendering -----------------------------------------------------------------------------


def _facts(rows: Iterable[tuple[str, RenderableType]]) -> Table:
    """A two-column label/value table without borders."""
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value)
    return table


def _ledger_rows(ledger: pb.Ledger) -> list[tuple[str, RenderableType]]:
    """Coverage of the target version: counts, percent, rate and ETA."""
    done = ledger.missing == 0
    eta = (
        "done" if done else ("unknown" if ledger.eta_seconds < 0 else _seconds(ledger.eta_seconds))
    )
    rate = f"{ledger.rate_per_second:,.1f} points/s" if ledger.rate_per_second > 0 else "—"
    return [
        ("source points", Text(f"{ledger.source_points:,}")),
        (
            "covered",
            Text(f"{ledger.covered:,}  ({ledger.percent:.1f}%)", style="green" if done else ""),
        ),
        ("missing", Text(f"{ledger.missing:,}", style="" if done else "yellow")),
        ("target points", Text(f"{ledger.target_points:,}")),
        ("rate", Text(rate)),
        ("eta", Text(eta)),
    ]


def _verify_text(report: pb.VerifyReport) -> Text:
    """One line: overlap, recalls, passed or not."""
    if not report.at:
        return Text("never verified", style="dim")
    recall = (
        f", recall@{report.k} source {report.source_recall:.3f} → target "
        f"{report.target_recall:.3f} ({report.labelled} labelled)"
        if report.labelled
        else ""
    )
    verdict = ("passed", "bold green") if report.passed else ("did not pass", "bold red")
    return Text.assemble(
        verdict,
        f"  overlap@{report.k} {report.overlap:.3f} over {report.queries} queries{recall}",
        (f"  ({report.at})", "dim"),
    )


def migration_view(view: pb.MigrationView) -> RenderableType:
    """A migration: versions, state, active version, ledger (when asked) and last verify."""
    state_style = {"migrating": "yellow", "cut_over": "green", "dropped": "dim"}
    rows: list[tuple[str, RenderableType]] = [
        ("collection", Text(view.collection, style="bold")),
        ("migration", Text(f"{view.source} → {view.target}")),
        ("state", Text(view.state, style=state_style.get(view.state, ""))),
        ("active", Text(view.active, style="bold green")),
        ("started", Text(view.started or "—")),
    ]
    if view.HasField("ledger"):
        rows += _ledger_rows(view.ledger)
    rows.append(("last verify", _verify_text(view.last_verify)))
    return _facts(rows)


def verify_view(report: pb.VerifyReport) -> RenderableType:
    """A verify report for people."""
    rows: list[tuple[str, RenderableType]] = [
        ("queries", Text(f"{report.queries} ({report.labelled} labelled), k = {report.k}")),
        ("overlap", Text(f"{report.overlap:.3f}  mean |top-k source ∩ top-k target| / k")),
    ]
    if report.labelled:
        rows.append(("source recall", Text(f"{report.source_recall:.3f}")))
        rows.append(("target recall", Text(f"{report.target_recall:.3f}")))
    verdict = Text("passed", "bold green") if report.passed else Text("did not pass", "bold red")
    rows.append(("verdict", verdict))
    return _facts(rows)


def history_table(events: Sequence[pb.MigrationEvent]) -> Table:
    """Every recorded step, oldest first."""
    table = Table(title="migration history", title_justify="left")
    for column in ("at (UTC)", "collection", "step", "by", "detail"):
        table.add_column(column, overflow="fold" if column == "detail" else "ellipsis")
    for event in events:
        table.add_row(
            Text(event.at.replace("T", " ")[:19]),
            Text(event.collection, style="bold"),
            Text(event.step, style="cyan"),
            Text(event.by) if event.by else _NONE,
            Text(event.detail),
        )
    if not events:
        table.caption = "no migration steps recorded"
    return table


def _print_view(view: pb.MigrationView, as_json: bool, headline: str) -> None:
    """A state change's resulting migration, for people or as JSON."""
    emit(view, as_json, lambda: Group(Text(headline, style="bold"), migration_view(view)))


# -- start, status -------------------------------------------------------------------------


@app.command()
def start(
    *,
    collection: Collection,
    to: Annotated[
        str, typer.Option("--to", metavar="MODEL@VERSION", help="The target model version.")
    ],
    dimension: Annotated[
        int | None,
        typer.Option("--dimension", min=1, help="Its dimension (if the model is not registered)."),
    ] = None,
    distance: Annotated[
        Distance | None,
        typer.Option("--distance", case_sensitive=False, help="Its distance (likewise)."),
    ] = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Create (or adopt) the target version's partition; writes under both are accepted."""
    request = pb.StartMigrationRequest(
        collection=collection,
        to=to,
        dimension=dimension or 0,
        distance=distance.value if distance else "",
    )
    view = _call("StartMigration", request, pb.MigrationView, (target, admin_key, timeout))
    _print_view(view, as_json, f"migration of `{view.collection}` started: {view.source} → {to}")


@app.command()
def status(
    *,
    collection: Collection,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """State, active version, backfill ledger (covered, missing, rate, ETA), last verify."""
    request = pb.GetMigrationRequest(collection=collection, ledger=True)
    view = _call("GetMigration", request, pb.MigrationView, (target, admin_key, timeout))
    emit(view, as_json, lambda: migration_view(view))


# -- backfill ------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    """Points written per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} points/s" if speed else "… points/s", style="cyan")


def _progress_bar(console: Console) -> Progress:
    """Counts, percent, rate, elapsed and remaining time (only drawn on a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _backfill_with_bar(
    connection: tuple[str, str | None, float],
    collection: str,
    embed: Embed,
    text_field: str,
    batch_size: int,
) -> BackfillStats:
    """Run the backfill with a progress bar on stderr; its errors become failures."""
    from proxy.migrate_backfill import BackfillError, run_backfill

    target, admin_key, timeout = connection
    with _progress_bar(Console(stderr=True)) as bar:
        task = bar.add_task(f"backfill {collection}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, done))

        try:
            return run_backfill(
                target,
                admin_key,
                collection,
                embed,
                text_field,
                batch_size,
                progress,
                timeout=timeout,
            )
        except BackfillError as error:
            unreachable = error.code is not None and error.code.name == "UNAVAILABLE"
            code = ExitCode.UNREACHABLE if unreachable else ExitCode.REFUSED
            raise Failure(str(error), code) from None
        except KeyboardInterrupt:
            raise Failure(
                "CANCELLED: backfill interrupted; the points written so far stay written, "
                "run it again to resume"
            ) from None


@app.command()
def backfill(
    *,
    collection: Collection,
    embed: EmbedSpec,
    text_field: Annotated[
        str, typer.Option("--text-field", help="The payload field holding the text to embed.")
    ],
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Texts per call of your function.")
    ] = 64,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Embed the source points the target version lacks and write them under the target.

    Resumable: only points still missing are embedded, so after an interruption run it
    again. Exits 0 when no source point is missing at the end.
    """
    function = load_function(embed, "--embed")
    connection = (target, admin_key, timeout)
    stats = _backfill_with_bar(connection, collection, function, text_field, batch_size)
    request = pb.GetMigrationRequest(collection=collection, ledger=True)
    view = _call("GetMigration", request, pb.MigrationView, connection)
    ledger = view.ledger
    show(
        Text(
            f"wrote {stats.points:,} points under {stats.identity} in {_seconds(stats.seconds)} "
            f"({stats.rate:,.0f} points/s, {stats.batches} batches); `{collection}`: "
            f"{ledger.covered:,} of {ledger.source_points:,} covered ({ledger.percent:.1f}%)"
        )
    )
    if ledger.missing:
        raise Failure(
            f"{ledger.missing} source points of `{collection}` still have no {view.target} "
            "vector (written during the backfill?); run it again"
        )


# -- verify --------------------------------------------------------------------------------


def _golden_line(number: int, line: str) -> dict[str, Any]:
    """One golden query: vectors, or a text to embed; `relevant_ids` optional."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(
            f"line {number}: not JSON: {error}", param_hint="--golden"
        ) from None
    if not isinstance(entry, dict) or not (
        ("source_vector" in entry and "target_vector" in entry) or "text" in entry
    ):
        raise typer.BadParameter(
            f"line {number}: needs source_vector and target_vector, or text",
            param_hint="--golden",
        )
    return entry


def read_golden(path: Path) -> list[dict[str, Any]]:
    """The golden file's queries, one JSON object a line (blank lines skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise typer.BadParameter(str(error), param_hint="--golden") from None
    entries = [_golden_line(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not entries:
        raise typer.BadParameter(f"{path} holds no query", param_hint="--golden")
    return entries


def _embed_all(embed: Embed, texts: list[str]) -> list[Sequence[float]]:
    """Every text embedded, in chunks."""
    vectors: list[Sequence[float]] = []
    for start in range(0, len(texts), _EMBED_CHUNK):
        chunk = texts[start : start + _EMBED_CHUNK]
        out = embed(chunk)
        if len(out) != len(chunk):
            raise Failure(f"the embed function returned {len(out)} vectors for {len(chunk)} texts")
        vectors.extend(out)
    return vectors


def golden_queries(
    entries: list[dict[str, Any]], embed_source: str | None, embed_target: str | None
) -> list[pb.GoldenQuery]:
    """The golden queries with both vectors; text lines are embedded by both functions."""
    texts = [str(e["text"]) for e in entries if "source_vector" not in e]
    embedded: dict[str, tuple[Sequence[float], Sequence[float]]] = {}
    if texts:
        if not embed_source or not embed_target:
            raise typer.BadParameter(
                f"{len(texts)} golden queries are texts: pass --embed-source and --embed-target"
            )
        source = _embed_all(load_function(embed_source, "--embed-source"), texts)
        target = _embed_all(load_function(embed_target, "--embed-target"), texts)
        embedded = dict(zip(texts, zip(source, target, strict=True), strict=True))
    queries = []
    for entry in entries:
        if "source_vector" in entry:
            vectors = (entry["source_vector"], entry["target_vector"])
        else:
            vectors = embedded[str(entry["text"])]
        relevant = [str(i) for i in entry.get("relevant_ids") or ()]
        queries.append(_golden_query(vectors, relevant))
    return queries


def _golden_query(
    vectors: tuple[Sequence[float], Sequence[float]], relevant: list[str]
) -> pb.GoldenQuery:
    """A GoldenQuery message; a vector that is not numbers is a usage error."""
    try:
        return pb.GoldenQuery(
            source_vector=vectors[0], target_vector=vectors[1], relevant_ids=relevant
        )
    except (TypeError, ValueError) as error:
        raise typer.BadParameter(f"a golden vector is not numbers: {error}") from None


@app.command()
def verify(
    *,
    collection: Collection,
    golden: Annotated[
        Path,
        typer.Option(
            "--golden",
            help='JSON Lines: {"source_vector", "target_vector", "relevant_ids"} or '
            '{"text", "relevant_ids"} (with --embed-source and --embed-target).',
        ),
    ],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="Top-k compared.")] = 10,
    embed_source: Annotated[
        str | None,
        typer.Option("--embed-source", metavar="MODULE:FUNCTION", help="Embeds texts as source."),
    ] = None,
    embed_target: Annotated[
        str | None,
        typer.Option("--embed-target", metavar="MODULE:FUNCTION", help="Embeds texts as target."),
    ] = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Run golden queries under both versions: top-k overlap and recall; exit 1 unless passed."""
    queries = golden_queries(read_golden(golden), embed_source, embed_target)
    request = pb.VerifyRequest(collection=collection, k=k, queries=queries)
    report = _call("Verify", request, pb.VerifyReport, (target, admin_key, timeout))
    emit(report, as_json, lambda: verify_view(report))
    if not report.passed:
        raise Failure(
            f"verify did not pass: overlap@{report.k} {report.overlap:.3f} over "
            f"{report.queries} queries is below vecgate's floor"
        )


# -- cutover, rollback, retire, drop, history ----------------------------------------------


@app.command()
def cutover(
    *,
    collection: Collection,
    force: Annotated[
        bool, typer.Option("--force", help="Cut over although some points have no target vector.")
    ] = False,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Make the target version active (one atomic alias switch).

    Refused below full coverage unless --force, and below the verify floor even then.
    """
    request = pb.CutoverRequest(collection=collection, force=force)
    view = _call("Cutover", request, pb.MigrationView, (target, admin_key, timeout))
    _print_view(view, as_json, f"`{view.collection}` cut over: {view.active} is active")


@app.command()
def rollback(
    *,
    collection: Collection,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Make the source version active again (until it is retired)."""
    request = pb.RollbackRequest(collection=collection)
    view = _call("Rollback", request, pb.MigrationView, (target, admin_key, timeout))
    _print_view(view, as_json, f"`{view.collection}` rolled back: {view.active} is active")


@app.command()
def retire(
    *,
    collection: Collection,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Make the source version read-only: writes under it are refused from now on."""
    request = pb.RetireRequest(collection=collection)
    view = _call("Retire", request, pb.MigrationView, (target, admin_key, timeout))
    _print_view(view, as_json, f"`{view.collection}`: {view.source} retired (read-only)")


def _what_drop_deletes(collection: str, connection: tuple[str, str | None, float]) -> str:
    """The version, partition and point count `drop` would delete (best effort)."""
    try:
        view = _call(
            "GetMigration",
            pb.GetMigrationRequest(collection=collection),
            pb.MigrationView,
            connection,
        )
        described = _call(
            "DescribeCollection",
            pb.DescribeCollectionRequest(name=collection),
            pb.CollectionView,
            connection,
        )
    except Failure:
        return f"the retired source version of `{collection}` and every point in it"
    unretired = {"retired": "", "dropped": " (already dropped)"}.get(
        view.state, f" (the migration is {view.state}: retire it first)"
    )
    for version in described.versions:
        if version.identity == view.source:
            return (
                f"{view.source} of `{collection}`: partition {version.partition} and its "
                f"{version.points} points{unretired}"
            )
    return f"{view.source} of `{collection}` and every point in it{unretired}"


@app.command()
def drop(
    *,
    collection: Collection,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: delete the retired version for good.")
    ] = False,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Delete the retired source version's partition (needs --yes)."""
    connection = (target, admin_key, timeout)
    if not yes:
        what = _what_drop_deletes(collection, connection)
        raise Failure(f"drop deletes {what}; run it again with --yes", ExitCode.USAGE)
    request = pb.DropVersionRequest(collection=collection, confirm=True)
    view = _call("DropVersion", request, pb.MigrationView, connection)
    _print_view(view, as_json, f"`{view.collection}`: {view.source} dropped")


@app.command()
def history(
    *,
    collection: Annotated[
        str | None, typer.Argument(help="One collection (default: every collection).")
    ] = None,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Every migration step recorded, oldest first: start, verify, cutover, rollback, …"""
    request = pb.MigrationHistoryRequest(collection=collection or "")
    reply = _call(
        "MigrationHistory", request, pb.MigrationHistoryReply, (target, admin_key, timeout)
    )
    emit(reply, as_json, lambda: history_table(reply.events))
