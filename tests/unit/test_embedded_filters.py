"""Protobuf filters on the embedded engine select the same points as local mode."""

from __future__ import annotations

import datetime as dt

import pytest
import qdrant_edge as qe
from google.protobuf.timestamp_pb2 import Timestamp
from qdrant_client import models as m
from qdrant_client.conversions.conversion import RestToGrpc
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import qdrant_common_pb2 as cmn

from adapters.embedded.filters import to_edge_filter
from proxy.errors import InvalidArgument
from tests.unit.embedded_twins import Dense, Twins, vectors

N = 40
CITIES = [("Berlin", 13.40, 52.52), ("Paris", 2.35, 48.86), ("Rome", 12.50, 41.90)]
WORDS = ["the quick brown fox", "lazy dog sleeps", "brown dog runs quick", "a fox and a dog"]


def _payload(i):
    name, lon, lat = CITIES[i % 3]
    payload = {
        "kw": f"k{i % 5}",
        "n": i,
        "flag": i % 2 == 0,
        "price": i * 1.5,
        "text": WORDS[i % 4],
        "when": (dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=i)).isoformat(),
        "loc": {"lon": lon, "lat": lat},
        "city": name,
        "tags": [f"t{i % 3}", f"t{(i + 1) % 4}"][: 1 + i % 2],
        "items": [{"sku": f"s{i % 4}", "qty": i % 3}, {"sku": f"s{(i + 1) % 4}", "qty": 2}],
    }
    if i % 6 == 0:
        payload["opt"] = None
    elif i % 6 == 1:
        payload["opt"] = []
    elif i % 6 == 2:
        payload["opt"] = "x"
    return payload


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Collection `f` with varied payloads; every third point lacks the `extra` vector."""
    t = Twins(tmp_path_factory.mktemp("filters") / "data")
    t.create("f", {"main": Dense(8), "extra": Dense(4)})
    main = vectors(N, 8)
    extra = vectors(N, 4, seed=5)
    points = []
    for i in range(N):
        vec = {"main": main[i]} if i % 3 == 0 else {"main": main[i], "extra": extra[i]}
        points.append(m.PointStruct(id=i, vector=vec, payload=_payload(i)))
    t.upsert("f", points)
    yield t
    t.close()


def _ids_both(twins, flt):
    """Ids the filter selects, embedded (Scroll + Count) and local."""
    grpc_filter = RestToGrpc.convert_filter(flt)
    got = twins.call("Scroll", ppb.ScrollPoints(collection_name="f", filter=grpc_filter, limit=100))
    count = twins.call("Count", ppb.CountPoints(collection_name="f", filter=grpc_filter))
    want, _ = twins.local.scroll("f", scroll_filter=flt, limit=100)
    got_ids = [r.id.num for r in got.result]
    assert count.result.count == len(got_ids)
    return got_ids, [r.id for r in want]


def field(key, **kw):
    """A filter with one field condition."""
    return m.Filter(must=[m.FieldCondition(key=key, **kw)])


CASES = {
    "keyword": field("kw", match=m.MatchValue(value="k2")),
    "integer": field("n", match=m.MatchValue(value=7)),
    "boolean": field("flag", match=m.MatchValue(value=True)),
    "keywords_any": field("kw", match=m.MatchAny(any=["k1", "k3"])),
    "integers_any": field("n", match=m.MatchAny(any=[1, 2, 30])),
    "except_keywords": field("kw", match=m.MatchExcept(**{"except": ["k0", "k1"]})),
    "except_integers": field("n", match=m.MatchExcept(**{"except": [0, 5, 9]})),
    "text": field("text", match=m.MatchText(text="quick fox")),
    "text_any": field("text", match=m.MatchTextAny(text_any="lazy fox")),
    "phrase": field("text", match=m.MatchPhrase(phrase="brown dog")),
    "array_value": field("tags", match=m.MatchValue(value="t2")),
    "range": field("price", range=m.Range(gte=6.0, lt=21.0)),
    "range_gt_lte": field("n", range=m.Range(gt=30, lte=35)),
    "datetime_range": field(
        "when", range=m.DatetimeRange(gt="2024-01-05T00:00:00Z", lte="2024-01-20T12:00:00Z")
    ),
    "geo_bounding_box": field(
        "loc",
        geo_bounding_box=m.GeoBoundingBox(
            top_left=m.GeoPoint(lon=0.0, lat=55.0), bottom_right=m.GeoPoint(lon=14.0, lat=45.0)
        ),
    ),
    "geo_radius": field(
        "loc", geo_radius=m.GeoRadius(center=m.GeoPoint(lon=2.3, lat=48.8), radius=50_000.0)
    ),
    "geo_polygon": field(
        "loc",
        geo_polygon=m.GeoPolygon(
            exterior=m.GeoLineString(
                points=[
                    m.GeoPoint(lon=10.0, lat=40.0),
                    m.GeoPoint(lon=15.0, lat=40.0),
                    m.GeoPoint(lon=15.0, lat=55.0),
                    m.GeoPoint(lon=10.0, lat=55.0),
                    m.GeoPoint(lon=10.0, lat=40.0),
                ]
            ),
            interiors=[
                m.GeoLineString(
                    points=[
                        m.GeoPoint(lon=12.0, lat=41.0),
                        m.GeoPoint(lon=13.0, lat=41.0),
                        m.GeoPoint(lon=13.0, lat=42.0),
                        m.GeoPoint(lon=12.0, lat=42.0),
                        m.GeoPoint(lon=12.0, lat=41.0),
                    ]
                )
            ],
        ),
    ),
    "values_count": field("tags", values_count=m.ValuesCount(gte=2)),
    "field_is_empty": field("opt", is_empty=True),
    "field_is_null": field("opt", is_null=True),
    "is_empty": m.Filter(must=[m.IsEmptyCondition(is_empty=m.PayloadField(key="opt"))]),
    "is_null": m.Filter(must=[m.IsNullCondition(is_null=m.PayloadField(key="opt"))]),
    "has_id": m.Filter(must=[m.HasIdCondition(has_id=[1, 4, 9, 100])]),
    "has_vector": m.Filter(must=[m.HasVectorCondition(has_vector="extra")]),
    "nested": m.Filter(
        must=[
            m.NestedCondition(
                nested=m.Nested(
                    key="items",
                    filter=m.Filter(
                        must=[
                            m.FieldCondition(key="sku", match=m.MatchValue(value="s1")),
                            m.FieldCondition(key="qty", match=m.MatchValue(value=2)),
                        ]
                    ),
                )
            )
        ]
    ),
    "nested_path": field("items[].sku", match=m.MatchValue(value="s3")),
    "should_and_must_not": m.Filter(
        should=[
            m.FieldCondition(key="kw", match=m.MatchValue(value="k1")),
            m.FieldCondition(key="city", match=m.MatchValue(value="Rome")),
        ],
        must_not=[m.FieldCondition(key="flag", match=m.MatchValue(value=False))],
    ),
    "filter_as_condition": m.Filter(
        must=[
            m.Filter(
                should=[
                    m.HasIdCondition(has_id=[2, 3]),
                    m.FieldCondition(key="n", range=m.Range(gt=35)),
                ]
            ),
        ],
        must_not=[m.Filter(must=[m.FieldCondition(key="n", match=m.MatchValue(value=3))])],
    ),
    "min_should": m.Filter(
        min_should=m.MinShould(
            conditions=[
                m.FieldCondition(key="kw", match=m.MatchValue(value="k1")),
                m.FieldCondition(key="flag", match=m.MatchValue(value=True)),
                m.FieldCondition(key="city", match=m.MatchValue(value="Paris")),
            ],
            min_count=2,
        )
    ),
    "prefix": field("city", match=m.MatchPrefix(prefix="Pa")),
    "substring": field("city", match=m.MatchSubstring(substring="ri")),
}


@pytest.mark.parametrize("name", list(CASES))
def test_filter_selects_the_same_points_as_local_mode(twins, name):
    """Each condition kind selects exactly the points local mode does (Scroll, Count agree)."""
    got, want = _ids_both(twins, CASES[name])
    assert got == want
    assert 0 < len(got) < N, "the case should select some points, not all"


def test_slice_condition_partitions_the_id_space(twins):
    """Slices of one `total` are disjoint and together select every point, as in Qdrant."""
    seen = []
    for index in range(3):
        f = cmn.Filter(must=[cmn.Condition(slice=cmn.SliceCondition(total=3, index=index))])
        got = twins.call("Scroll", ppb.ScrollPoints(collection_name="f", filter=f, limit=100))
        seen.extend(r.id.num for r in got.result)
    assert sorted(seen) == list(range(N))


def test_datetime_range_from_protobuf_timestamps(twins):
    """A `DatetimeRange` built from protobuf timestamps selects like its RFC 3339 strings."""
    low = Timestamp()
    low.FromDatetime(dt.datetime(2024, 1, 5, tzinfo=dt.UTC))
    f = cmn.Filter(
        must=[
            cmn.Condition(
                field=cmn.FieldCondition(key="when", datetime_range=cmn.DatetimeRange(gte=low))
            )
        ]
    )
    got = twins.call("Count", ppb.CountPoints(collection_name="f", filter=f))
    want = twins.local.count(
        "f", count_filter=field("when", range=m.DatetimeRange(gte="2024-01-05T00:00:00Z"))
    )
    assert got.result.count == want.count == N - 4


def test_empty_filter_is_no_filter():
    """None and an empty filter both become no engine filter (every point matches)."""
    assert to_edge_filter(None) is None
    assert to_edge_filter(cmn.Filter()) is None
    nested_empty = to_edge_filter(cmn.Filter(must=[cmn.Condition(filter=cmn.Filter())]))
    assert isinstance(nested_empty, qe.Filter)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (cmn.Condition(), "condition is empty"),
        (cmn.Condition(field=cmn.FieldCondition(key="n")), "has no condition"),
        (
            cmn.Condition(field=cmn.FieldCondition(key="n", match=cmn.Match())),
            "`match` condition is empty",
        ),
        (
            cmn.Condition(
                field=cmn.FieldCondition(
                    key="n", range=cmn.Range(gt=1), datetime_range=cmn.DatetimeRange()
                )
            ),
            "both `range` and `datetime_range`",
        ),
        (cmn.Condition(slice=cmn.SliceCondition(total=2, index=2)), "slice condition `index`"),
    ],
)
def test_malformed_conditions_are_invalid_arguments(condition, message):
    """Conditions that say nothing (or contradict themselves) are refused with a sentence."""
    with pytest.raises(InvalidArgument, match=message):
        to_edge_filter(cmn.Filter(must=[condition]))
