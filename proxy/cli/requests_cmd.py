"""`vecgate inspect`: what recent requests did, from the gateway's in-memory record.

vecgate inspect                          # the last 50 requests, a table
vecgate inspect --follow --refused       # refusals live, as they happen
vecgate inspect --refused --json         # one JSON object per line, for scripts
vecgate inspect --trace 4bf92f35...      # one request in full
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from proxy.admin.generated import admin_pb2 as pb
from proxy.cli.client import AdminClient
from proxy.cli.failure import Failure
from proxy.cli.options import DEFAULT_TARGET, DEFAULT_TIMEOUT, AdminKey, AsJson, Target, Timeout
from proxy.cli.output import message_dict, show, stdout_console

_DECISION_STYLE = {
    "routed": "green",
    "bridged": "cyan",
    "served": "green",
    "refused": "yellow",
    "error": "bold red",
}
_LIVE_ROWS = 30
_TRACE_PREFIX = 8  # enough for --trace; the full id is in --json and --trace


def _check_model(model: str | None) -> str | None:
    if model is not None and "@" not in model:
        raise typer.BadParameter(f"{model!r} is not name@version, e.g. minilm@2")
    return model


def _check_trace(trace: str | None) -> str | None:
    if trace is None:
        return None
    text = trace.strip().lower()
    if not 8 <= len(text) <= 32 or any(c not in "0123456789abcdef" for c in text):
        raise typer.BadParameter(
            f"{trace!r} is not a trace id: 32 hex digits, or the first 8 or more of them"
        )
    return text


def _time(stamp: str) -> str:
    """``2026-11-22T07:21:07.042+00:00`` -> ``07:21:07``."""
    return stamp[11:19]


def _outcome(record: pb.RequestRecord) -> Text:
    style = _DECISION_STYLE.get(record.decision, "")
    if record.decision in ("routed", "served"):
        return Text(record.decision, style=style)
    if record.decision == "bridged":
        return Text(f"bridged: {record.bridge}", style=style)
    return Text(f"{record.decision}: {record.reason or record.status}", style=style)


def records_table(records: Iterable[pb.RequestRecord], title: str = "requests") -> Table:
    """One row per request, oldest first (counts and timings in --trace and --json)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("collection", overflow="fold", min_width=10)
    table.add_column("identity", overflow="fold", min_width=8)
    table.add_column("outcome", overflow="fold", min_width=10)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("trace", no_wrap=True, style="dim")
    rows = 0
    for record in records:
        table.add_row(
            _time(record.time),
            record.method,
            record.collection or "—",
            record.identity or Text("none", style="dim"),
            _outcome(record),
            f"{record.latency_ms:.1f}",
            record.trace_id[:_TRACE_PREFIX],
        )
        rows += 1
    if rows == 0:
        table.caption = "no request matches"
    return table


def record_detail(record: pb.RequestRecord) -> RenderableType:
    """Every field of one request, one per line."""
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    values = message_dict(record)
    for key in (f.name for f in record.DESCRIPTOR.fields):
        value = values[key]
        if key == "decision":
            table.add_row(key, Text(str(value), style=_DECISION_STYLE.get(str(value), "")))
        elif isinstance(value, list):
            table.add_row(key, "\n".join(value) or "—")
        else:
            table.add_row(key, str(value) if value not in ("", None) else "—")
    return Group(Text(f"request {record.trace_id} / {record.span_id}", style="bold"), table)


def _line(record: pb.RequestRecord) -> str:
    """A record as one plain line (following into a pipe)."""
    outcome = _outcome(record).plain
    return (
        f"{_time(record.time)}  {record.method}  {record.collection or '-'}  "
        f"{record.identity or '-'}  {outcome}  {record.latency_ms:.2f} ms  {record.trace_id}"
    )


def _print_json(record: pb.RequestRecord) -> None:
    sys.stdout.write(json.dumps(message_dict(record)) + "\n")
    sys.stdout.flush()


def _follow(records: Iterator[Any], as_json: bool) -> None:
    if as_json:
        for record in records:
            _print_json(record)
        return
    console = stdout_console()
    if not console.is_terminal:
        for record in records:
            console.print(_line(record))
        return
    recent: deque[pb.RequestRecord] = deque(maxlen=_LIVE_ROWS)
    with Live(records_table(recent, "requests (following)"), console=console) as live:
        for record in records:
            recent.append(record)
            live.update(records_table(recent, "requests (following; Ctrl-C stops)"))


def inspect(
    *,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep showing new requests as they end.")
    ] = False,
    refused: Annotated[bool, typer.Option("--refused", help="Only refused requests.")] = False,
    collection: Annotated[
        str | None, typer.Option("--collection", help="Only requests to this collection.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", callback=_check_model, help="Only requests of this model, name@version."
        ),
    ] = None,
    trace: Annotated[
        str | None,
        typer.Option(
            "--trace",
            callback=_check_trace,
            help="Show the request(s) of this trace id (or its first 8+ digits) in full.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Kept requests to show first (0: all kept).")
    ] = 50,
    target: Target = DEFAULT_TARGET,
    admin_key: AdminKey = None,
    timeout: Timeout = DEFAULT_TIMEOUT,
    as_json: AsJson = False,
) -> None:
    """Recent requests: who asked, which version and partition, routed or refused and why.

    Reads the gateway's in-memory record (works with tracing export off). With --json,
    one JSON object per request per line.
    """
    request = pb.InspectRequest(
        refused_only=refused,
        collection=collection or "",
        model=model or "",
        trace_id=trace or "",
        follow=follow and trace is None,
        limit=0 if trace else limit,
    )
    with (
        AdminClient(target, admin_key, timeout) as admin,
        contextlib.closing(
            admin.stream("InspectRequests", request, timeout=None if follow else timeout)
        ) as records,
    ):
        if request.follow:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends a follow: exit 0
                _follow(records, as_json)
            return
        found = [r for r in records if isinstance(r, pb.RequestRecord)]
    if trace is not None and not found:
        raise Failure(
            f"no request with trace id {trace} among those vecgate keeps in memory "
            "([telemetry] inspect_records); it may be older, or another replica served it"
        )
    if as_json:
        for record in found:
            _print_json(record)
    elif trace is not None:
        show(*(record_detail(record) for record in found))
    else:
        show(records_table(found))
