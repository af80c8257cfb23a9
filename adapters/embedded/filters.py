"""Qdrant's protobuf `Filter` as the embedded engine's `qdrant_edge.Filter`.

Hot path: every filtered read and every write by filter goes through here, so the
conversion walks the protobuf oneofs directly (no pydantic models in between).
Empty condition lists become `None`, as in Qdrant's own gRPC conversion, so an empty
`Filter` matches every point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import qdrant_edge as qe
from qdrant_client.grpc import qdrant_common_pb2 as cpb

from proxy.errors import InvalidArgument, Unimplemented
from proxy.values import point_id_to_python

if TYPE_CHECKING:
    from collections.abc import Iterable

    from google.protobuf.timestamp_pb2 import Timestamp

#: `SliceCondition` exists in the engine but not in its type stub.
_SLICE_CONDITION: Any = qe.__dict__.get("SliceCondition")


def to_edge_filter(f: cpb.Filter | None) -> qe.Filter | None:
    """The engine filter for a protobuf filter; `None` when it is absent or empty."""
    if f is None or not _has_conditions(f):
        return None
    return filter_to_edge(f)


def filter_to_edge(f: cpb.Filter) -> qe.Filter:
    """The engine filter for a protobuf filter, even an empty one (matches everything)."""
    min_should = None
    if f.HasField("min_should"):
        min_should = qe.MinShould(
            conditions=_conditions(f.min_should.conditions) or [],
            min_count=f.min_should.min_count,
        )
    return qe.Filter(
        must=_conditions(f.must),
        should=_conditions(f.should),
        must_not=_conditions(f.must_not),
        min_should=min_should,
    )


def _has_conditions(f: cpb.Filter) -> bool:
    """Whether the filter constrains anything at all."""
    return bool(f.must or f.should or f.must_not or f.HasField("min_should"))


def _conditions(conditions: Iterable[cpb.Condition]) -> list[qe.ConditionType] | None:
    """A repeated condition field; `None` when it is empty (Qdrant's reading)."""
    converted = [condition_to_edge(c) for c in conditions]
    return converted or None


def condition_to_edge(c: cpb.Condition) -> qe.ConditionType:
    """One protobuf `Condition` as an engine condition."""
    kind = c.WhichOneof("condition_one_of")
    if kind == "field":
        return field_condition_to_edge(c.field)
    if kind == "is_empty":
        return qe.IsEmptyCondition(c.is_empty.key)
    if kind == "is_null":
        return qe.IsNullCondition(c.is_null.key)
    if kind == "has_id":
        return qe.HasIdCondition({point_id_to_python(p) for p in c.has_id.has_id})
    if kind == "has_vector":
        return qe.HasVectorCondition(c.has_vector.has_vector)
    if kind == "filter":
        return filter_to_edge(c.filter)
    if kind == "nested":
        return qe.NestedCondition(c.nested.key, filter_to_edge(c.nested.filter))
    if kind == "slice":
        return _slice_condition(c.slice)
    if kind is None:
        raise InvalidArgument("a filter condition is empty; set one of its condition kinds")
    raise Unimplemented(f"filter condition `{kind}` is not supported by the embedded engine")


def _slice_condition(s: cpb.SliceCondition) -> qe.ConditionType:
    """A deterministic slice of the id space."""
    if s.total < 1:
        raise InvalidArgument(f"slice condition `total` must be >= 1, got {s.total}")
    if s.index >= s.total:
        raise InvalidArgument(
            f"slice condition `index` must be in [0, {s.total - 1}], got {s.index}"
        )
    if _SLICE_CONDITION is None:
        raise Unimplemented("filter condition `slice` is not supported by this engine build")
    condition: qe.ConditionType = _SLICE_CONDITION(s.total, s.index)
    return condition


def field_condition_to_edge(fc: cpb.FieldCondition) -> qe.FieldCondition:
    """A condition on one payload field; every part that is set must hold."""
    if not _field_condition_is_set(fc):
        raise InvalidArgument(
            f"field condition on `{fc.key}` has no condition; set match, range, "
            "datetime_range, a geo shape, values_count, is_empty or is_null"
        )
    if fc.HasField("range") and fc.HasField("datetime_range"):
        raise InvalidArgument(
            f"field condition on `{fc.key}` sets both `range` and `datetime_range`; keep one"
        )
    return qe.FieldCondition(
        fc.key,
        match=match_to_edge(fc.match) if fc.HasField("match") else None,
        range=_range(fc),
        geo_bounding_box=_geo_bounding_box(fc.geo_bounding_box)
        if fc.HasField("geo_bounding_box")
        else None,
        geo_radius=_geo_radius(fc.geo_radius) if fc.HasField("geo_radius") else None,
        geo_polygon=_geo_polygon(fc.geo_polygon) if fc.HasField("geo_polygon") else None,
        values_count=_values_count(fc.values_count) if fc.HasField("values_count") else None,
        is_empty=fc.is_empty if fc.HasField("is_empty") else None,
        is_null=fc.is_null if fc.HasField("is_null") else None,
    )


def _field_condition_is_set(fc: cpb.FieldCondition) -> bool:
    """Whether at least one part of the field condition is present."""
    return any(
        fc.HasField(name)
        for name in (
            "match",
            "range",
            "datetime_range",
            "geo_bounding_box",
            "geo_radius",
            "geo_polygon",
            "values_count",
            "is_empty",
            "is_null",
        )
    )


def match_to_edge(m: cpb.Match) -> qe.MatchType:
    """A protobuf `Match` (value, text, any, except, ...) as an engine match."""
    kind = m.WhichOneof("match_value")
    if kind == "keyword":
        return qe.MatchValue(m.keyword)
    if kind == "integer":
        return qe.MatchValue(m.integer)
    if kind == "boolean":
        # The engine binding reads a Python `bool` as the integer 0/1 (which never matches
        # a JSON boolean); a NumPy bool is read as a boolean.
        return qe.MatchValue(np.bool_(m.boolean))  # type: ignore[arg-type]
    if kind == "text":
        return qe.MatchText(m.text)
    if kind == "text_any":
        return qe.MatchTextAny(m.text_any)
    if kind == "phrase":
        return qe.MatchPhrase(m.phrase)
    if kind == "prefix":
        return qe.MatchPrefix(m.prefix)
    if kind == "substring":
        return qe.MatchSubstring(m.substring)
    if kind == "keywords":
        return qe.MatchAny(list(m.keywords.strings))
    if kind == "integers":
        return qe.MatchAny(list(m.integers.integers))
    if kind == "except_keywords":
        return qe.MatchExcept(list(m.except_keywords.strings))
    if kind == "except_integers":
        return qe.MatchExcept(list(m.except_integers.integers))
    if kind is None:
        raise InvalidArgument("a `match` condition is empty; set the value to match")
    raise Unimplemented(f"match kind `{kind}` is not supported by the embedded engine")


def _range(fc: cpb.FieldCondition) -> qe.RangeType | None:
    """The numeric or datetime range of a field condition, if any."""
    if fc.HasField("range"):
        r = fc.range
        return qe.RangeFloat(
            gte=r.gte if r.HasField("gte") else None,
            gt=r.gt if r.HasField("gt") else None,
            lte=r.lte if r.HasField("lte") else None,
            lt=r.lt if r.HasField("lt") else None,
        )
    if fc.HasField("datetime_range"):
        d = fc.datetime_range
        return qe.RangeDateTime(
            gte=_timestamp(d.gte) if d.HasField("gte") else None,
            gt=_timestamp(d.gt) if d.HasField("gt") else None,
            lte=_timestamp(d.lte) if d.HasField("lte") else None,
            lt=_timestamp(d.lt) if d.HasField("lt") else None,
        )
    return None


def _timestamp(ts: Timestamp) -> str:
    """A protobuf timestamp as the RFC 3339 string the engine parses."""
    text: str = ts.ToJsonString()
    return text


def _geo_point(p: cpb.GeoPoint) -> qe.GeoPoint:
    """One longitude/latitude pair."""
    return qe.GeoPoint(lon=p.lon, lat=p.lat)


def _geo_bounding_box(b: cpb.GeoBoundingBox) -> qe.GeoBoundingBox:
    """A box from its north-west and south-east corners."""
    return qe.GeoBoundingBox(_geo_point(b.top_left), _geo_point(b.bottom_right))


def _geo_radius(r: cpb.GeoRadius) -> qe.GeoRadius:
    """A circle, radius in meters."""
    return qe.GeoRadius(_geo_point(r.center), r.radius)


def _geo_polygon(p: cpb.GeoPolygon) -> qe.GeoPolygon:
    """A polygon with optional holes."""
    exterior = [_geo_point(pt) for pt in p.exterior.points]
    interiors = [[_geo_point(pt) for pt in ring.points] for ring in p.interiors]
    return qe.GeoPolygon(exterior, interiors or None)


def _values_count(v: cpb.ValuesCount) -> qe.ValuesCount:
    """Bounds on how many values an array field holds."""
    return qe.ValuesCount(
        lt=v.lt if v.HasField("lt") else None,
        gt=v.gt if v.HasField("gt") else None,
        lte=v.lte if v.HasField("lte") else None,
        gte=v.gte if v.HasField("gte") else None,
    )
