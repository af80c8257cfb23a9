"""Group-by for SearchGroups, RecommendGroups and QueryGroups.

The result is the exact greedy grouping Qdrant's local mode computes: walk all
candidates in score order, put each into the group of every id its `group_by` value
gives (at most `group_size` hits per group), keep the first `limit` groups created.
Candidates are fetched in growing batches until those groups are full or the
candidates run out, so a top-10 request does not read the whole collection.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.results import fill_order_value, fill_retrieved_point
from adapters.embedded.vectors import (
    fill_vectors_output,
    with_payload_to_edge,
    with_vectors_to_edge,
)
from proxy.errors import InvalidArgument
from proxy.values import python_to_payload, python_to_point_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from adapters.embedded.catalog import Catalog

    #: Builds the candidate request for a number of candidates and a payload selector.
    CandidateQuery = Callable[[int, qe.WithPayloadType], qe.QueryRequest]

GroupKey = tuple[type, int | str]

_FIRST_BATCH_FACTOR = 2
_GROWTH = 4
_PATH_TOKEN = re.compile(r'"([^"]*)"|([A-Za-z0-9_\-]+)|\[(\d*)\]|(\.)')


@dataclass
class GroupSpec:
    """What to group by and how many groups and hits to return."""

    group_by: str
    group_size: int
    limit: int
    with_payload: qe.WithPayloadType
    with_vector: qe.WithVectorType
    with_lookup: ppb.WithLookup | None = None


@dataclass
class Group:
    """One group: its id and its hits in score order."""

    value: int | str
    hits: list[qe.ScoredPoint] = field(default_factory=list)


def validate(spec: GroupSpec) -> None:
    """Qdrant's bounds on a group request."""
    if not spec.group_by:
        raise InvalidArgument("`group_by` is empty; name the payload field to group by")
    if spec.limit < 1:
        raise InvalidArgument(f"limit value {spec.limit} is invalid. Must be 1 or larger.")
    if spec.group_size < 1:
        raise InvalidArgument(
            f"group_size value {spec.group_size} is invalid. Must be 1 or larger."
        )


def group_points(shard: qe.EdgeShard, build: CandidateQuery, spec: GroupSpec) -> list[Group]:
    """The greedy groups over the candidates that `build` yields, best group first."""
    validate(spec)
    path = parse_path(spec.group_by)
    selector = qe.PayloadSelector.Include([_strip_wildcard(spec.group_by)])
    wanted = spec.limit * spec.group_size * _FIRST_BATCH_FACTOR
    while True:
        candidates = shard.query(build(wanted, selector))
        groups = _greedy(candidates, path, spec)
        if len(candidates) < wanted or _complete(groups, spec):
            return groups
        wanted *= _GROWTH


def _greedy(candidates: list[qe.ScoredPoint], path: list[Any], spec: GroupSpec) -> list[Group]:
    """Fill groups in candidate order; keep the first `limit` created."""
    groups: dict[GroupKey, Group] = {}
    for point in candidates:
        values = group_values(point.payload, path)
        if values is None:
            continue
        for value in values:
            key = (type(value), value)
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(value)
            if len(group.hits) < spec.group_size:
                group.hits.append(point)
    return list(groups.values())[: spec.limit]


def _complete(groups: list[Group], spec: GroupSpec) -> bool:
    """Whether no later candidate can change these groups."""
    return len(groups) == spec.limit and all(len(g.hits) >= spec.group_size for g in groups)


def group_values(payload: dict[str, Any] | None, path: list[Any]) -> list[int | str] | None:
    """The distinct group ids of a point, or None when it cannot be grouped.

    Only integers and strings are group ids; a point whose value includes anything
    else (a float, a bool, null, an object) joins no group, as in Qdrant.
    """
    if not payload:
        return None
    values = select(payload, path)
    if not values:
        return None
    if any(type(v) not in (int, str) for v in values):
        return None
    return list(dict.fromkeys(values))


# --------------------------------------------------------------------- json paths


def parse_path(path: str) -> list[Any]:
    """A payload path (`a.b`, `a[].b`, `a[0]`, `"a.b".c`) as keys and indices.

    A key is a `str`, an index an `int`, and `[]` (every element) is `None`.
    """
    items: list[Any] = []
    pos = 0
    expect_key = True
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None:
            raise InvalidArgument(f"`{path}` is not a valid payload path")
        quoted, key, index, dot = match.groups()
        if dot is not None:
            expect_key = True
        elif index is not None:
            items.append(int(index) if index else None)
        elif expect_key:
            items.append(quoted if quoted is not None else key)
            expect_key = False
        else:
            raise InvalidArgument(f"`{path}` is not a valid payload path")
        pos = match.end()
    if not items or not isinstance(items[0], str):
        raise InvalidArgument(f"`{path}` is not a valid payload path")
    return items


def select(data: Any, path: list[Any]) -> list[Any]:
    """Every value the path selects; an array at the end is unwrapped one level."""
    out: list[Any] = []
    _select(data, path, 0, out)
    return out


def _select(data: Any, path: list[Any], i: int, out: list[Any]) -> None:
    """Walk `path[i:]` from `data`, appending what it selects to `out`."""
    if i == len(path):
        if isinstance(data, list):
            out.extend(data)
        else:
            out.append(data)
        return
    item = path[i]
    if isinstance(item, str):
        if isinstance(data, dict) and item in data:
            _select(data[item], path, i + 1, out)
    elif item is None:
        if isinstance(data, list):
            for element in data:
                _select(element, path, i + 1, out)
    elif isinstance(data, list) and item < len(data):
        _select(data[item], path, i + 1, out)


def _strip_wildcard(path: str) -> str:
    """The path without a trailing `[]` (the payload selector reads the whole array)."""
    return path[:-2] if path.endswith("[]") else path


# --------------------------------------------------------------------- output


def fill_groups(
    catalog: Catalog,
    shard: qe.EdgeShard,
    groups: list[Group],
    spec: GroupSpec,
    out: ppb.GroupsResult,
) -> None:
    """Write groups into `GroupsResult`, reading payload, vectors and lookups once."""
    records = _hydrate(shard, groups, spec)
    lookups = _lookups(catalog, groups, spec.with_lookup)
    out.SetInParent()
    for group in groups:
        pg = out.groups.add()
        _fill_group_id(group.value, pg.id)
        for hit in group.hits:
            _fill_hit(hit, records.get(hit.id), pg.hits.add())
        found = lookups.get(group.value)
        if found is not None:
            fill_retrieved_point(found, pg.lookup)


def _hydrate(shard: qe.EdgeShard, groups: list[Group], spec: GroupSpec) -> dict[Any, qe.Record]:
    """Payload and vectors of every hit, in one engine call (none if none are asked)."""
    if spec.with_payload is False and spec.with_vector is False:
        return {}
    ids = list(dict.fromkeys(hit.id for g in groups for hit in g.hits))
    if not ids:
        return {}
    records = shard.retrieve(ids, with_payload=spec.with_payload, with_vector=spec.with_vector)
    return {r.id: r for r in records}


def _fill_hit(hit: qe.ScoredPoint, record: qe.Record | None, out: ppb.ScoredPoint) -> None:
    """A group hit: score from the search, payload and vectors from the record."""
    python_to_point_id(hit.id, out.id)
    out.score = hit.score
    out.version = hit.version
    if hit.order_value is not None:
        fill_order_value(hit.order_value, out.order_value)
    if record is None:
        return
    if record.payload:
        python_to_payload(record.payload, out.payload)
    if record.vector is not None:
        fill_vectors_output(record.vector, out.vectors)


def _fill_group_id(value: int | str, out: ppb.GroupId) -> None:
    """A group id: strings, non-negative integers as unsigned, negative as signed."""
    if isinstance(value, str):
        out.string_value = value
    elif value >= 0:
        out.unsigned_value = value
    else:
        out.integer_value = value


def _lookups(
    catalog: Catalog, groups: list[Group], with_lookup: ppb.WithLookup | None
) -> dict[int | str, qe.Record]:
    """The point of each group's id in the lookup collection, where there is one."""
    if with_lookup is None or not groups:
        return {}
    collection = catalog.get(with_lookup.collection)
    by_key: dict[qe.PointId, int | str] = {}
    for group in groups:
        key = _as_point_id(group.value)
        if key is not None:
            by_key[key] = group.value
    if not by_key:
        return {}
    with_payload = (
        with_payload_to_edge(with_lookup.with_payload)
        if with_lookup.HasField("with_payload")
        else True
    )
    with_vector = with_vectors_to_edge(
        with_lookup.with_vectors if with_lookup.HasField("with_vectors") else None
    )
    records = collection.shard.retrieve(
        list(by_key), with_payload=with_payload, with_vector=with_vector
    )
    return {by_key[r.id]: r for r in records if r.id in by_key}


def _as_point_id(value: int | str) -> int | uuid.UUID | None:
    """A group id usable as a point id (unsigned integer or UUID), else None."""
    if isinstance(value, int):
        return value if value >= 0 else None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
