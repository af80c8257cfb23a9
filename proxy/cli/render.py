"""Admin replies as rich tables and lines for people (scripts use `--json`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from proxy.admin.generated import admin_pb2 as pb

_NONE = Text("—", style="dim")


def _vector_cells(vectors: Sequence[pb.VectorView]) -> tuple[str, str]:
    """A version's dimensions and distances, one `name:value` per named vector."""

    def label(vector: pb.VectorView, value: str) -> str:
        return f"{vector.name}:{value}" if vector.name else value

    dims = [label(v, "sparse" if v.sparse else str(v.dimension)) for v in vectors]
    distances = [label(v, v.distance or "—") for v in vectors if not v.sparse]
    return ", ".join(dims) or "—", ", ".join(distances) or "—"


def _created(stamp: str) -> str:
    """An RFC 3339 UTC time shortened to the minute, for a table cell."""
    return stamp[:16].replace("T", " ") or "—"


def collections_table(views: Iterable[pb.CollectionView]) -> Table:
    """One row per version of every collection; the active version is marked."""
    table = Table(title="collections", title_justify="left")
    for column in ("collection", "version", "dims", "distance", "points", "state"):
        table.add_column(
            column, justify="right" if column == "points" else "left", min_width=len(column)
        )
    table.add_column("created (UTC)", no_wrap=True)
    rows = 0
    for view in views:
        for index, version in enumerate(view.versions):
            active = version.state == "active" or version.identity == view.active
            dims, distance = _vector_cells(version.vectors)
            table.add_row(
                Text(view.name, style="bold") if index == 0 else Text(""),
                Text(version.identity, style="bold green" if active else ""),
                Text(dims),
                Text(distance),
                str(version.points),
                Text("● active", style="green") if active else Text(version.state, style="dim"),
                _created(version.created),
            )
            rows += 1
        if not view.versions:
            table.add_row(Text(view.name, style="bold"), _NONE, "", "", "", "", "")
    if rows == 0:
        table.caption = "no collections yet"
    return table


def collection_detail(view: pb.CollectionView) -> RenderableType:
    """One collection: its versions, the active one, its aliases and partitions."""
    partitions = Table(box=None, show_header=False, padding=(0, 1))
    partitions.add_column(style="dim")
    partitions.add_column()
    for version in view.versions:
        partitions.add_row(Text(version.identity), Text(version.partition))
    aliases = ", ".join(view.aliases) if view.aliases else "none"
    return Group(
        collections_table([view]),
        Text(f"active: {view.active or 'none'}    aliases: {aliases}"),
        Text("partitions:", style="dim"),
        partitions,
    )


def sunset_cells(model: pb.ModelView) -> tuple[Text, Text]:
    """The sunset date and the days left: yellow when near, red once past."""
    if not model.sunset:
        return _NONE, Text("")
    days = model.days_to_sunset
    if model.deprecation == "past" or days < 0:
        return Text(model.sunset, style="bold red"), Text(f"{-days} d ago", style="bold red")
    style = "yellow" if model.deprecation == "near" else "dim"
    return Text(model.sunset, style=style), Text(f"{days} d", style=style)


def models_table(models: Iterable[pb.ModelView], title: str = "models") -> Table:
    """Every known model version with its shape, provenance and sunset."""
    views = list(models)
    table = Table(title=title, title_justify="left")
    table.add_column("model", no_wrap=True)
    table.add_column("dims", justify="right")
    table.add_column("distance")
    table.add_column("sunset", no_wrap=True)
    table.add_column("left", justify="right", no_wrap=True)
    table.add_column("source", min_width=len("registered"))
    table.add_column("used by")
    digests, notes = any(m.digest for m in views), any(m.notes for m in views)
    if digests:
        table.add_column("digest", overflow="fold")
    if notes:
        table.add_column("notes", overflow="fold")
    for model in views:
        sunset, left = sunset_cells(model)
        cells: list[RenderableType] = [
            Text(f"{model.name}@{model.version}", style="bold"),
            str(model.dimension) if model.dimension else "—",
            Text(model.distance or "—"),
            sunset,
            left,
            Text(model.source),
            Text(", ".join(model.collections) or "—"),
        ]
        if digests:
            cells.append(Text(model.digest or "—"))
        if notes:
            cells.append(Text(model.notes))
        table.add_row(*cells)
    if not views:
        table.caption = "no models known"
    return table


def status_view(reply: pb.StatusReply) -> RenderableType:
    """The gateway's versions, counts and deprecations."""
    facts = Table(box=None, show_header=False, padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    rows = [
        ("vecgate", reply.vecgate_version),
        ("qdrant api", reply.qdrant_api_version),
        ("backend", reply.backend),
        ("collections", f"{reply.collections} ({reply.partitions} partitions)"),
        ("models", str(reply.models)),
        ("keys", str(reply.keys)),
        ("uptime", _duration(reply.uptime_seconds)),
    ]
    for label, value in rows:
        facts.add_row(label, Text(value))
    if not reply.deprecations:
        return Group(facts, Text("no model near or past its sunset", style="green"))
    return Group(facts, models_table(reply.deprecations, title="deprecations"))


def _duration(seconds: float) -> str:
    """Uptime as days, hours, minutes and seconds."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    text = "".join(f"{value}{unit} " for value, unit in parts if value)
    return f"{text}{secs}s"


def explain_view(reply: pb.ExplainReply) -> RenderableType:
    """Routed to which partition, or refused with which status and message."""
    who = reply.identity or "no identity"
    known = reply.identity_source not in ("", "none")
    source = f" (from {reply.identity_source})" if known else ""
    subject = f"{reply.operation} on `{reply.collection}` as {who}{source}"
    lines: list[RenderableType] = []
    if reply.allowed:
        lines.append(Text.assemble(("routed  ", "bold green"), subject))
        lines.append(Text(f"  partition {reply.partition} (version {reply.version})"))
    else:
        lines.append(Text.assemble(("refused  ", "bold red"), subject))
        lines.append(Text(f"  {reply.status}: {reply.message}"))
        if reply.reason:
            lines.append(Text(f"  reason: {reply.reason}", style="dim"))
    lines += [Text(f"  warning: {warning}", style="yellow") for warning in reply.warnings]
    return Group(*lines)


def keys_table(keys: Iterable[pb.KeyView]) -> Table:
    """API keys: name, role, identity, scope, fingerprint and source, never the secret."""
    table = Table(title="api keys", title_justify="left")
    for column in ("name", "role", "identity", "collections", "fingerprint", "source"):
        table.add_column(column)
    count = 0
    for key in keys:
        table.add_row(
            Text(key.name, style="bold"),
            Text(key.role, style="magenta" if key.role == "admin" else ""),
            Text(key.identity) if key.identity else _NONE,
            Text(", ".join(key.collections) or "*"),
            Text(key.fingerprint, style="dim"),
            Text(key.source or "config", style="dim"),
        )
        count += 1
    if count == 0:
        table.caption = "no keys configured: every client is anonymous"
    return table
