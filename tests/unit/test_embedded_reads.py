"""Read RPCs of the embedded backend, compared with qdrant-client's local mode."""

from __future__ import annotations

import uuid

import pytest
import qdrant_edge as qe
from qdrant_client import models as m
from qdrant_client.conversions.conversion import GrpcToRest, RestToGrpc
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import qdrant_common_pb2 as cmn

from adapters.embedded import EmbeddedBackend
from adapters.embedded.vectors import (
    point_vector_to_edge,
    vectors_output,
    with_payload_to_edge,
    with_vectors_to_edge,
)
from proxy.errors import InvalidArgument, NotFound, Unimplemented
from tests.unit.embedded_twins import (
    Dense,
    Twins,
    assert_same_hits,
    assert_same_vectors,
    rest_points,
    sparse,
    vectors,
)

N = 60
DIM = 16
X = vectors(N, DIM, seed=1)
IMG = vectors(N, 8, seed=2)
TXT = vectors(N, 12, seed=3)
COLBERT = [vectors(3, 4, seed=100 + i) for i in range(N)]
SPARSE = sparse(N, seed=4)
Q = vectors(4, DIM, seed=9)
UUIDS = [uuid.UUID(int=(i * 7919) << 64 | i) for i in range(20)]


def _payload(i):
    return {
        "g": i % 4,
        "tag": ["red", "green", "blue"][i % 3],
        "price": float(i),
        "rank": i,
        "labels": [f"l{i % 5}", f"l{(i + 2) % 5}"],
        "maybe": None if i % 7 == 0 else i,
    }


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Collections `c` (one dense vector), `n` (named dense, multi and sparse) and `u` (UUIDs)."""
    t = Twins(tmp_path_factory.mktemp("embedded") / "data")
    t.create("c", Dense(DIM))
    t.upsert("c", [m.PointStruct(id=i, vector=X[i], payload=_payload(i)) for i in range(N)])
    t.create(
        "n",
        {
            "img": Dense(8, m.Distance.EUCLID),
            "txt": Dense(12, m.Distance.DOT),
            "colbert": Dense(4, m.Distance.COSINE, multi=True),
        },
        sparse_names=("sp",),
    )
    t.upsert(
        "n",
        [
            m.PointStruct(
                id=i,
                vector={"img": IMG[i], "txt": TXT[i], "colbert": COLBERT[i], "sp": SPARSE[i]},
                payload=_payload(i),
            )
            for i in range(N)
        ],
    )
    t.create("u", Dense(DIM))
    t.upsert(
        "u",
        [
            *(m.PointStruct(id=str(u), vector=X[k], payload={"k": k}) for k, u in enumerate(UUIDS)),
            *(m.PointStruct(id=k, vector=X[k], payload={"k": k}) for k in range(20, 30)),
        ],
    )
    t.index("c", "rank", m.PayloadSchemaType.INTEGER)
    t.index("c", "price", m.PayloadSchemaType.FLOAT)
    t.index("c", "tag", m.PayloadSchemaType.KEYWORD)
    yield t
    t.close()


def _query_both(twins, name, **request):
    """Run one `models.QueryRequest` through the embedded handler and local mode."""
    rest = m.QueryRequest(**request)
    got = twins.call("Query", RestToGrpc.convert_query_request(rest, name))
    want = twins.local.query_points(
        name,
        query=rest.query,
        prefetch=rest.prefetch,
        using=rest.using,
        query_filter=rest.filter,
        score_threshold=rest.score_threshold,
        limit=rest.limit if rest.limit is not None else 10,
        offset=rest.offset,
        with_payload=rest.with_payload if rest.with_payload is not None else False,
        with_vectors=rest.with_vector if rest.with_vector is not None else False,
        lookup_from=rest.lookup_from,
    )
    return rest_points(got.result), want.points


def _grpc_filter(f):
    return RestToGrpc.convert_filter(f)


GREEN = m.Filter(must=[m.FieldCondition(key="tag", match=m.MatchValue(value="green"))])


# --------------------------------------------------------------------- search


def test_search_matches_local_with_filter_offset_and_threshold(twins):
    """Search returns local mode's hits and scores under a filter, offset and threshold."""
    request = ppb.SearchPoints(
        collection_name="c",
        vector=Q[0],
        limit=7,
        offset=2,
        filter=_grpc_filter(GREEN),
        score_threshold=-0.3,
        with_payload=ppb.WithPayloadSelector(enable=True),
    )
    got = twins.call("Search", request)
    want = twins.local.query_points(
        "c", query=Q[0], limit=7, offset=2, query_filter=GREEN, score_threshold=-0.3
    )
    assert_same_hits(rest_points(got.result), want.points, payload=True)
    assert 0 < got.time < 1


def test_search_without_selectors_returns_no_payload_and_no_vectors(twins):
    """In gRPC an unset with_payload / with_vectors means neither is returned."""
    got = twins.call("Search", ppb.SearchPoints(collection_name="c", vector=Q[0], limit=3))
    assert len(got.result) == 3
    for point in got.result:
        assert not point.payload
        assert not point.HasField("vectors")


def test_search_payload_selectors_and_vectors_match_local(twins):
    """Include/exclude payload selectors and named vector selection return what local mode does."""
    include = ppb.WithPayloadSelector(include=ppb.PayloadIncludeSelector(fields=["tag", "g"]))
    exclude = ppb.WithPayloadSelector(exclude=ppb.PayloadExcludeSelector(fields=["labels"]))
    for selector, local_selector in [
        (include, ["tag", "g"]),
        (exclude, m.PayloadSelectorExclude(exclude=["labels"])),
    ]:
        request = ppb.SearchPoints(
            collection_name="n",
            vector=IMG[3],
            vector_name="img",
            limit=4,
            with_payload=selector,
            with_vectors=ppb.WithVectorsSelector(
                include=ppb.VectorsSelector(names=["txt", "sp", "colbert"])
            ),
        )
        got = rest_points(twins.call("Search", request).result)
        want = twins.local.query_points(
            "n",
            query=IMG[3],
            using="img",
            limit=4,
            with_payload=local_selector,
            with_vectors=["txt", "sp", "colbert"],
        ).points
        assert_same_hits(got, want, payload=True, vectors=True)


def test_single_default_vector_comes_back_unnamed(twins):
    """A collection's only (unnamed) vector is returned as `vector`, like Qdrant sends it."""
    request = ppb.SearchPoints(
        collection_name="c",
        vector=Q[1],
        limit=2,
        with_vectors=ppb.WithVectorsSelector(enable=True),
    )
    got = twins.call("Search", request)
    assert got.result[0].vectors.WhichOneof("vectors_options") == "vector"
    assert got.result[0].vectors.vector.WhichOneof("vector") == "dense"
    want = twins.local.query_points("c", query=Q[1], limit=2, with_vectors=True).points
    assert_same_hits(rest_points(got.result), want, vectors=True)


def test_search_batch_matches_single_searches(twins):
    """SearchBatch answers one result list per search, each equal to local mode's."""
    request = ppb.SearchBatchPoints(
        collection_name="c",
        search_points=[
            ppb.SearchPoints(collection_name="c", vector=q, limit=5, offset=i)
            for i, q in enumerate(Q)
        ],
    )
    got = twins.call("SearchBatch", request)
    assert len(got.result) == len(Q)
    for i, (batch, q) in enumerate(zip(got.result, Q, strict=True)):
        want = twins.local.query_points("c", query=q, limit=5, offset=i).points
        assert_same_hits(rest_points(batch.result), want)


def test_legacy_sparse_search_matches_local(twins):
    """SearchPoints with `sparse_indices` searches the named sparse vector."""
    query = SPARSE[5]
    request = ppb.SearchPoints(
        collection_name="n",
        vector=query.values,
        sparse_indices=ppb.SparseIndices(data=query.indices),
        vector_name="sp",
        limit=6,
    )
    got = rest_points(twins.call("Search", request).result)
    want = twins.local.query_points("n", query=query, using="sp", limit=6).points
    assert_same_hits(got, want)


@pytest.mark.parametrize(
    ("using", "query"),
    [("img", IMG[7]), ("txt", TXT[7]), ("colbert", COLBERT[7]), ("sp", SPARSE[7])],
)
def test_query_nearest_on_every_vector_kind(twins, using, query):
    """Nearest queries on Euclid, Dot, multi-dense (MaxSim) and sparse vectors match local mode."""
    got, want = _query_both(twins, "n", query=query, using=using, limit=6)
    assert_same_hits(got, want)


# --------------------------------------------------------------------- recommend and discover


@pytest.mark.parametrize("strategy", [0, 1, 2])
def test_recommend_strategies_match_local(twins, strategy):
    """Recommend by ids and vectors equals local mode for each strategy; examples are excluded."""
    request = ppb.RecommendPoints(
        collection_name="c",
        positive=[cmn.PointId(num=1), cmn.PointId(num=2)],
        negative=[cmn.PointId(num=3)],
        positive_vectors=[ppb.Vector(dense=ppb.DenseVector(data=Q[2]))],
        limit=8,
        strategy=strategy,
        filter=_grpc_filter(
            m.Filter(must_not=[m.FieldCondition(key="g", match=m.MatchValue(value=0))])
        ),
    )
    got = rest_points(twins.call("Recommend", request).result)
    local_strategy = [
        m.RecommendStrategy.AVERAGE_VECTOR,
        m.RecommendStrategy.BEST_SCORE,
        m.RecommendStrategy.SUM_SCORES,
    ][strategy]
    want = twins.local.query_points(
        "c",
        query=m.RecommendQuery(
            recommend=m.RecommendInput(positive=[1, 2, Q[2]], negative=[3], strategy=local_strategy)
        ),
        query_filter=m.Filter(must_not=[m.FieldCondition(key="g", match=m.MatchValue(value=0))]),
        limit=8,
    ).points
    assert_same_hits(got, want)
    assert not {1, 2, 3} & {p.id for p in got}


@pytest.mark.parametrize(("using", "examples"), [("sp", (4, 9)), ("colbert", (4, 9))])
def test_average_recommend_on_sparse_and_multi_vectors(twins, using, examples):
    """The average-vector strategy on sparse and multi-dense vectors equals local mode."""
    query = m.RecommendQuery(
        recommend=m.RecommendInput(positive=[examples[0]], negative=[examples[1]])
    )
    got, want = _query_both(twins, "n", query=query, using=using, limit=5)
    assert_same_hits(got, want)


def test_recommend_lookup_from_other_collection_keeps_those_ids(twins):
    """Examples read from a `lookup_from` collection are not excluded from the results."""
    request = ppb.RecommendPoints(
        collection_name="c",
        positive=[cmn.PointId(num=22)],
        limit=5,
        lookup_from=ppb.LookupLocation(collection_name="u"),
    )
    got = rest_points(twins.call("Recommend", request).result)
    want = twins.local.query_points(
        "c",
        query=m.RecommendQuery(recommend=m.RecommendInput(positive=[22])),
        lookup_from=m.LookupLocation(collection="u"),
        limit=5,
    ).points
    assert_same_hits(got, want)
    assert got[0].id == 22


def test_recommend_batch_matches_local(twins):
    """RecommendBatch answers one list per request."""
    request = ppb.RecommendBatchPoints(
        collection_name="c",
        recommend_points=[
            ppb.RecommendPoints(collection_name="c", positive=[cmn.PointId(num=i)], limit=4)
            for i in (5, 6)
        ],
    )
    got = twins.call("RecommendBatch", request)
    for batch, i in zip(got.result, (5, 6), strict=True):
        want = twins.local.query_points(
            "c", query=m.RecommendQuery(recommend=m.RecommendInput(positive=[i])), limit=4
        ).points
        assert_same_hits(rest_points(batch.result), want)


def _example(value):
    if isinstance(value, int):
        return ppb.VectorExample(id=cmn.PointId(num=value))
    return ppb.VectorExample(vector=ppb.Vector(dense=ppb.DenseVector(data=value)))


def test_discover_matches_local(twins):
    """Discover with a target and context pairs equals local mode; example ids are excluded."""
    request = ppb.DiscoverPoints(
        collection_name="c",
        target=ppb.TargetVector(single=_example(10)),
        context=[
            ppb.ContextExamplePair(positive=_example(11), negative=_example(12)),
            ppb.ContextExamplePair(positive=_example(Q[3]), negative=_example(13)),
        ],
        limit=6,
    )
    got = rest_points(twins.call("Discover", request).result)
    want = twins.local.query_points(
        "c",
        query=m.DiscoverQuery(
            discover=m.DiscoverInput(
                target=10,
                context=[
                    m.ContextPair(positive=11, negative=12),
                    m.ContextPair(positive=Q[3], negative=13),
                ],
            )
        ),
        limit=6,
    ).points
    assert_same_hits(got, want)
    assert not {10, 11, 12, 13} & {p.id for p in got}


def test_discover_without_target_is_a_context_search(twins):
    """Without a target, Discover ranks by context only (scores equal local mode's)."""
    request = ppb.DiscoverBatchPoints(
        collection_name="c",
        discover_points=[
            ppb.DiscoverPoints(
                collection_name="c",
                context=[ppb.ContextExamplePair(positive=_example(Q[0]), negative=_example(Q[1]))],
                limit=5,
            )
        ],
    )
    got = rest_points(twins.call("DiscoverBatch", request).result[0].result)
    want = twins.local.query_points(
        "c", query=m.ContextQuery(context=[m.ContextPair(positive=Q[0], negative=Q[1])]), limit=5
    ).points
    assert [round(p.score, 4) for p in got] == [round(p.score, 4) for p in want]


# --------------------------------------------------------------------- universal query


def test_query_nearest_by_id_excludes_that_point(twins):
    """A nearest query by point id searches with its stored vector and leaves the point out."""
    got, want = _query_both(twins, "c", query=m.NearestQuery(nearest=17), limit=5)
    assert_same_hits(got, want)
    assert 17 not in {p.id for p in got}


@pytest.mark.parametrize(
    "fusion",
    [
        m.FusionQuery(fusion=m.Fusion.RRF),
        m.FusionQuery(fusion=m.Fusion.DBSF),
        m.RrfQuery(rrf=m.Rrf(k=5)),
        m.RrfQuery(rrf=m.Rrf(k=3, weights=[2.0, 1.0])),
    ],
)
def test_query_fusion_of_prefetches_matches_local(twins, fusion):
    """RRF (default and parameterised, weighted) and DBSF over two prefetches equal local mode."""
    prefetch = [
        m.Prefetch(query=IMG[0], using="img", limit=15),
        m.Prefetch(query=SPARSE[0], using="sp", limit=15, filter=GREEN),
    ]
    # RRF scores tie often; an offset could cut through a tie, so only DBSF takes one.
    offset = 1 if isinstance(fusion, m.FusionQuery) and fusion.fusion == m.Fusion.DBSF else 0
    got, want = _query_both(twins, "n", prefetch=prefetch, query=fusion, limit=6, offset=offset)
    assert_same_hits(got, want)


def test_nested_prefetch_rescoring_matches_local(twins):
    """A nearest query over nested prefetches (with a propagated filter) equals local mode."""
    prefetch = m.Prefetch(
        prefetch=[m.Prefetch(query=TXT[1], using="txt", limit=30)],
        query=IMG[1],
        using="img",
        limit=12,
    )
    got, want = _query_both(
        twins,
        "n",
        prefetch=[prefetch],
        query=COLBERT[1],
        using="colbert",
        filter=m.Filter(must_not=[m.FieldCondition(key="g", match=m.MatchValue(value=2))]),
        limit=5,
        with_payload=True,
    )
    assert_same_hits(got, want, payload=True)


def test_formula_rescoring_matches_local(twins):
    """A score-boosting formula over a prefetch equals local mode."""
    formula = m.FormulaQuery(
        formula=m.SumExpression(
            sum=[
                "$score",
                m.MultExpression(mult=[0.01, "price"]),
                m.FieldCondition(key="tag", match=m.MatchValue(value="blue")),
            ]
        ),
        defaults={"price": 0.0},
    )
    got, want = _query_both(
        twins, "c", prefetch=[m.Prefetch(query=Q[2], limit=20)], query=formula, limit=6
    )
    assert_same_hits(got, want)


def test_formula_with_decay_division_and_functions_matches_local(twins):
    """Decay, division with a default, powers and unary functions score like local mode."""
    formula = m.FormulaQuery(
        formula=m.SumExpression(
            sum=[
                m.ExpDecayExpression(
                    exp_decay=m.DecayParamsExpression(x="price", target=30.0, scale=10.0)
                ),
                m.DivExpression(div=m.DivParams(left="rank", right="g", by_zero_default=2.5)),
                m.AbsExpression(abs="$score"),
                m.PowExpression(pow=m.PowParams(base="g", exponent=2.0)),
            ]
        )
    )
    got, want = _query_both(
        twins, "c", prefetch=[m.Prefetch(query=Q[1], limit=30)], query=formula, limit=8
    )
    assert_same_hits(got, want)


def test_mmr_matches_local(twins):
    """Nearest with MMR re-ranking (diversity, candidates limit) equals local mode."""
    query = m.NearestQuery(nearest=Q[3], mmr=m.Mmr(diversity=0.6, candidates_limit=25))
    got, want = _query_both(twins, "c", query=query, limit=6)
    assert [p.id for p in got] == [p.id for p in want]
    assert [round(p.score, 4) for p in got] == [round(p.score, 4) for p in want]


def test_relevance_feedback_matches_local(twins):
    """The naive relevance-feedback query (ids resolved, then excluded) equals local mode."""
    query = m.RelevanceFeedbackQuery(
        relevance_feedback=m.RelevanceFeedbackInput(
            target=Q[0],
            feedback=[
                m.FeedbackItem(example=4, score=0.9),
                m.FeedbackItem(example=Q[1], score=0.2),
            ],
            strategy=m.NaiveFeedbackStrategy(
                naive=m.NaiveFeedbackStrategyParams(a=1.0, b=0.5, c=0.8)
            ),
        )
    )
    got, want = _query_both(twins, "c", query=query, limit=6)
    assert_same_hits(got, want)


def test_order_by_query_matches_local(twins):
    """An order_by query (descending, start_from) orders like local mode, with order values."""
    query = m.OrderByQuery(
        order_by=m.OrderBy(key="price", direction=m.Direction.DESC, start_from=40.0)
    )
    got, want = _query_both(twins, "c", query=query, limit=5, filter=GREEN)
    assert [p.id for p in got] == [p.id for p in want]
    assert [p.order_value for p in got] == [p.order_value for p in want]


def test_query_without_query_lists_points_by_id(twins):
    """Without a query, Query returns points in id order after the offset."""
    got, want = _query_both(twins, "c", limit=4, offset=3, filter=GREEN, with_payload=True)
    assert [p.id for p in got] == [p.id for p in want]
    assert [p.payload for p in got] == [p.payload for p in want]


def test_random_sample_returns_matching_points(twins):
    """A random sample returns `limit` distinct points that match the filter."""
    got, _ = _query_both(
        twins,
        "c",
        query=m.SampleQuery(sample=m.Sample.RANDOM),
        limit=5,
        filter=GREEN,
        with_payload=True,
    )
    assert len({p.id for p in got}) == 5
    assert all(p.payload["tag"] == "green" for p in got)


def test_query_batch_matches_local(twins):
    """QueryBatch answers one list per query, each equal to local mode's."""
    requests = [m.QueryRequest(query=q, limit=3, filter=GREEN) for q in Q[:2]]
    got = twins.call(
        "QueryBatch",
        ppb.QueryBatchPoints(
            collection_name="c",
            query_points=[RestToGrpc.convert_query_request(r, "c") for r in requests],
        ),
    )
    want = twins.local.query_batch_points("c", requests)
    for batch, expected in zip(got.result, want, strict=True):
        assert_same_hits(rest_points(batch.result), expected.points)


# --------------------------------------------------------------------- groups


def _groups(result):
    return GrpcToRest.convert_groups_result(result).groups


def assert_same_groups(got, want):
    """Same group ids in the same order, each with the same hits."""
    assert [g.id for g in got] == [g.id for g in want]
    for g, w in zip(got, want, strict=True):
        assert_same_hits(g.hits, w.hits, payload=True)
        assert (g.lookup is None) == (w.lookup is None)
        if w.lookup is not None:
            assert g.lookup.id == w.lookup.id
            assert g.lookup.payload == w.lookup.payload


def test_search_groups_matches_local(twins):
    """SearchGroups builds the same greedy groups as local mode, payload included."""
    request = ppb.SearchPointGroups(
        collection_name="c",
        vector=Q[0],
        group_by="g",
        limit=3,
        group_size=4,
        with_payload=ppb.WithPayloadSelector(include=ppb.PayloadIncludeSelector(fields=["g"])),
    )
    got = _groups(twins.call("SearchGroups", request).result)
    want = twins.local.query_points_groups(
        "c", query=Q[0], group_by="g", limit=3, group_size=4, with_payload=["g"]
    ).groups
    assert_same_groups(got, want)


def test_groups_of_array_values_fill_iteratively(twins):
    """Points join one group per array value; groups needing deep candidates are still filled."""
    request = ppb.QueryPointGroups(
        collection_name="c",
        query=RestToGrpc.convert_query_interface(Q[1]),
        group_by="labels",
        limit=5,
        group_size=9,
        with_payload=ppb.WithPayloadSelector(enable=True),
    )
    got = _groups(twins.call("QueryGroups", request).result)
    want = twins.local.query_points_groups(
        "c", query=Q[1], group_by="labels", limit=5, group_size=9, with_payload=True
    ).groups
    assert_same_groups(got, want)
    assert all(len(g.hits) == 9 for g in got)


def test_query_groups_with_prefetch_and_lookup_matches_local(twins):
    """QueryGroups over a fused prefetch, with a lookup of each group id, equals local mode."""
    prefetch = [m.Prefetch(query=Q[0], limit=10), m.Prefetch(query=Q[1], limit=10)]
    lookup = m.WithLookup(collection="n", with_payload=["tag"], with_vectors=["img"])
    request = ppb.QueryPointGroups(
        collection_name="c",
        prefetch=[RestToGrpc.convert_prefetch_query(p) for p in prefetch],
        query=RestToGrpc.convert_query(m.FusionQuery(fusion=m.Fusion.RRF)),
        group_by="g",
        limit=3,
        group_size=2,
        with_lookup=RestToGrpc.convert_with_lookup(lookup),
    )
    got = _groups(twins.call("QueryGroups", request).result)
    want = twins.local.query_points_groups(
        "c",
        prefetch=prefetch,
        query=m.FusionQuery(fusion=m.Fusion.RRF),
        group_by="g",
        limit=3,
        group_size=2,
        with_payload=False,
        with_lookup=lookup,
    ).groups
    assert_same_groups(got, want)
    for g, w in zip(got, want, strict=True):
        assert_same_vectors(g.lookup.vector, w.lookup.vector)


def test_groups_fetch_more_candidates_until_full(twins):
    """A group that needs candidates far down the ranking is still filled like local mode."""
    request = ppb.SearchPointGroups(
        collection_name="c", vector=Q[3], group_by="g", limit=1, group_size=14
    )
    got = _groups(twins.call("SearchGroups", request).result)
    want = twins.local.query_points_groups(
        "c", query=Q[3], group_by="g", limit=1, group_size=14, with_payload=False
    ).groups
    assert_same_groups(got, want)
    assert len(got[0].hits) == 14


def test_group_lookup_of_missing_or_non_id_values_is_absent(twins):
    """Groups whose id is no point of the lookup collection carry no lookup."""
    request = ppb.SearchPointGroups(
        collection_name="c",
        vector=Q[0],
        group_by="tag",
        limit=3,
        group_size=1,
        with_lookup=ppb.WithLookup(collection="u"),
    )
    got = _groups(twins.call("SearchGroups", request).result)
    assert len(got) == 3
    assert all(g.lookup is None for g in got)


def test_recommend_groups_matches_local(twins):
    """RecommendGroups groups the recommendation like local mode (string group ids)."""
    request = ppb.RecommendPointGroups(
        collection_name="c",
        positive=[cmn.PointId(num=8)],
        group_by="tag",
        limit=3,
        group_size=2,
    )
    got = _groups(twins.call("RecommendGroups", request).result)
    want = twins.local.query_points_groups(
        "c",
        query=m.RecommendQuery(recommend=m.RecommendInput(positive=[8])),
        group_by="tag",
        limit=3,
        group_size=2,
        with_payload=False,
    ).groups
    assert_same_groups(got, want)


def test_points_with_unusable_group_values_join_no_group(twins):
    """A point whose group_by value includes null (or a float) joins no group."""
    request = ppb.QueryPointGroups(
        collection_name="c",
        query=RestToGrpc.convert_query_interface(Q[2]),
        group_by="maybe",
        limit=50,
        group_size=1,
    )
    got = _groups(twins.call("QueryGroups", request).result)
    want = twins.local.query_points_groups(
        "c", query=Q[2], group_by="maybe", limit=50, group_size=1, with_payload=False
    ).groups
    assert_same_groups(got, want)
    assert all(g.id % 7 for g in got)


# --------------------------------------------------------------------- records


def _scroll_both(twins, name, **kw):
    request = ppb.ScrollPoints(collection_name=name)
    if "limit" in kw:
        request.limit = kw["limit"]
    if "offset" in kw:
        request.offset.CopyFrom(RestToGrpc.convert_extended_point_id(kw["offset"]))
    if "filter" in kw:
        request.filter.CopyFrom(_grpc_filter(kw["filter"]))
    got = twins.call("Scroll", request)
    want = twins.local.scroll(
        name, limit=kw.get("limit", 10), offset=kw.get("offset"), scroll_filter=kw.get("filter")
    )
    return got, want


def test_scroll_pages_by_id_like_local(twins):
    """Scroll walks mixed integer and UUID ids in Qdrant's order, with next_page_offset."""
    offset = None
    seen = []
    while True:
        kw = {"limit": 7, **({"offset": offset} if offset is not None else {})}
        got, (want_points, want_next) = _scroll_both(twins, "u", **kw)
        records = [GrpcToRest.convert_retrieved_point(r) for r in got.result]
        assert [str(r.id) for r in records] == [str(r.id) for r in want_points]
        assert [r.payload for r in records] == [r.payload for r in want_points]
        if want_next is None:
            assert not got.HasField("next_page_offset")
            break
        offset = GrpcToRest.convert_point_id(got.next_page_offset)
        assert str(offset) == str(want_next)
        seen.extend(records)
    assert len(seen) + len(records) == 30


def test_scroll_with_filter_and_default_limit(twins):
    """Scroll defaults to 10 points and applies the filter like local mode."""
    got, (want, want_next) = _scroll_both(twins, "c", filter=GREEN)
    assert [r.id.num for r in got.result] == [r.id for r in want]
    assert GrpcToRest.convert_point_id(got.next_page_offset) == want_next


def test_scroll_order_by_matches_local_and_has_no_next_page(twins):
    """Scroll by a payload field orders like local mode, reports order values, no next page."""
    request = ppb.ScrollPoints(
        collection_name="c",
        limit=4,
        order_by=ppb.OrderBy(key="rank", direction=ppb.Desc),
        filter=_grpc_filter(GREEN),
    )
    got = twins.call("Scroll", request)
    want, _ = twins.local.scroll(
        "c",
        limit=4,
        order_by=m.OrderBy(key="rank", direction=m.Direction.DESC),
        scroll_filter=GREEN,
    )
    assert [r.id.num for r in got.result] == [r.id for r in want]
    assert [r.order_value.int for r in got.result] == [r.order_value for r in want]
    assert not got.HasField("next_page_offset")


def test_scroll_refuses_offset_with_order_by(twins):
    """Scroll with both an id offset and order_by is refused with Qdrant's explanation."""
    request = ppb.ScrollPoints(
        collection_name="c", offset=cmn.PointId(num=3), order_by=ppb.OrderBy(key="rank")
    )
    with pytest.raises(InvalidArgument, match=r"order_by\.start_from"):
        twins.call("Scroll", request)


def test_count_is_exact(twins):
    """Count returns the exact number of matching points."""
    for f in (None, GREEN):
        request = ppb.CountPoints(collection_name="c")
        if f is not None:
            request.filter.CopyFrom(_grpc_filter(f))
        got = twins.call("Count", request)
        assert got.result.count == twins.local.count("c", count_filter=f).count


def test_get_keeps_request_order_and_skips_missing(twins):
    """Get returns existing points in request order, each once, with the asked payload."""
    ids = [5, 999, 2, 5, 40]
    request = ppb.GetPoints(
        collection_name="c",
        ids=[cmn.PointId(num=i) for i in ids],
        with_payload=ppb.WithPayloadSelector(enable=True),
        with_vectors=ppb.WithVectorsSelector(enable=True),
    )
    got = [GrpcToRest.convert_retrieved_point(r) for r in twins.call("Get", request).result]
    assert [r.id for r in got] == [5, 2, 40]
    want = {r.id: r for r in twins.local.retrieve("c", [5, 2, 40], with_vectors=True)}
    for record in got:
        assert record.payload == want[record.id].payload
        assert_same_vectors(record.vector, want[record.id].vector)


def test_facet_counts_match_local(twins):
    """Facet counts the values of an indexed keyword field like local mode."""
    request = ppb.FacetCounts(collection_name="c", key="tag", exact=True)
    got = twins.call("Facet", request)
    want = twins.local.facet("c", "tag", exact=True)
    assert [(h.value.string_value, h.count) for h in got.hits] == [
        (h.value, h.count) for h in want.hits
    ]


@pytest.mark.parametrize("kind", ["SearchMatrixPairs", "SearchMatrixOffsets"])
def test_search_matrix_matches_local_when_all_points_are_sampled(twins, kind):
    """With a sample covering every matching point, the distance matrix equals local mode's."""
    request = ppb.SearchMatrixPoints(
        collection_name="n", filter=_grpc_filter(GREEN), sample=100, limit=3, using="img"
    )
    got = twins.call(kind, request).result
    if kind == "SearchMatrixPairs":
        want = twins.local.search_matrix_pairs(
            "n", query_filter=GREEN, sample=100, limit=3, using="img"
        )
        assert [(p.a.num, p.b.num) for p in got.pairs] == [(p.a, p.b) for p in want.pairs]
        assert all(
            abs(p.score - w.score) < 1e-4 for p, w in zip(got.pairs, want.pairs, strict=True)
        )
    else:
        want = twins.local.search_matrix_offsets(
            "n", query_filter=GREEN, sample=100, limit=3, using="img"
        )
        assert [i.num for i in got.ids] == want.ids
        assert list(got.offsets_row) == want.offsets_row
        assert list(got.offsets_col) == want.offsets_col
        assert all(abs(a - b) < 1e-4 for a, b in zip(got.scores, want.scores, strict=True))


# --------------------------------------------------------------------- errors


def test_unknown_example_id_is_not_found(twins):
    """A recommend example id that does not exist answers NotFound naming the id."""
    request = ppb.RecommendPoints(collection_name="c", positive=[cmn.PointId(num=12345)], limit=3)
    with pytest.raises(NotFound, match="12345"):
        twins.call("Recommend", request)


def test_inference_inputs_are_unimplemented(twins):
    """A Document query input answers Unimplemented: vecgate does not embed."""
    request = ppb.QueryPoints(
        collection_name="c",
        query=ppb.Query(nearest=ppb.VectorInput(document=ppb.Document(text="hi", model="m"))),
    )
    with pytest.raises(Unimplemented, match="inference"):
        twins.call("Query", request)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            ppb.QueryPoints(
                collection_name="c",
                prefetch=[ppb.PrefetchQuery(query=RestToGrpc.convert_query_interface(Q[0]))],
            ),
            "A query is needed to merge the prefetches",
        ),
        (
            ppb.QueryPoints(
                collection_name="c",
                query=ppb.Query(order_by=ppb.OrderBy(key="rank")),
                score_threshold=0.5,
            ),
            "score_threshold with an order_by",
        ),
        (ppb.QueryPoints(collection_name="c", limit=0), "limit value 0"),
        (
            ppb.QueryPoints(collection_name="c", query=ppb.Query(recommend=ppb.RecommendInput())),
            "At least one positive",
        ),
    ],
)
def test_invalid_queries_are_refused_like_qdrant(twins, request_, message):
    """Query requests Qdrant refuses are InvalidArgument with Qdrant's sentence."""
    with pytest.raises(InvalidArgument, match=message):
        twins.call("Query", request_)


def test_unknown_collection_is_not_found(twins):
    """A read on a collection that does not exist answers NotFound."""
    with pytest.raises(NotFound, match="doesn't exist"):
        twins.call("Count", ppb.CountPoints(collection_name="nope"))


def test_bm25_text_query_matches_local(twins):
    """A BM25 text query over a scored text index ranks like local mode."""
    docs = ["quick brown fox", "lazy dog", "quick dog runs", "brown bear", "the dog and the fox"]
    twins.create("texts", Dense(4))
    twins.upsert(
        "texts",
        [m.PointStruct(id=i, vector=X[i][:4], payload={"body": d}) for i, d in enumerate(docs)],
    )
    twins.local.create_payload_index(
        "texts", "body", m.TextIndexParams(type=m.TextIndexType.TEXT, scoring=True)
    )
    shard = twins.catalog.get("texts").shard
    shard.update(qe.UpdateOperation.create_field_index("body", qe.TextIndexParams(scoring=True)))
    query = m.TextQuery(text=m.TextQueryInput(query="quick dog"))
    got, want = _query_both(twins, "texts", query=query, using="body", limit=3)
    assert_same_hits(got, want)


def test_fusion_with_using_is_refused(twins):
    """A fusion query naming a vector with `using` is refused like Qdrant does."""
    request = RestToGrpc.convert_query_request(
        m.QueryRequest(
            prefetch=[m.Prefetch(query=Q[0])],
            query=m.FusionQuery(fusion=m.Fusion.RRF),
            using="img",
        ),
        "c",
    )
    with pytest.raises(InvalidArgument, match="cannot be combined with the 'using'"):
        twins.call("Query", request)


def test_random_sample_ignores_the_offset(twins):
    """Qdrant ignores the offset of a random sample without prefetch: `limit` points come back."""
    request = ppb.QueryPoints(
        collection_name="c", query=ppb.Query(sample=ppb.Random), limit=4, offset=58
    )
    assert len(twins.call("Query", request).result) == 4


def test_query_score_threshold_and_prefetch_limit_match_local(twins):
    """A score threshold on a rescoring query and a prefetch's own limit behave like local mode."""
    got, want = _query_both(
        twins,
        "c",
        prefetch=[m.Prefetch(query=Q[0], limit=25, score_threshold=-0.2)],
        query=Q[1],
        score_threshold=0.1,
        limit=20,
    )
    assert_same_hits(got, want)


def test_search_matrix_on_the_default_vector(twins):
    """The distance matrix works on a collection's unnamed vector."""
    request = ppb.SearchMatrixPoints(collection_name="c", sample=N, limit=2)
    got = twins.call("SearchMatrixOffsets", request).result
    want = twins.local.search_matrix_offsets("c", sample=N, limit=2)
    assert [i.num for i in got.ids] == want.ids
    assert list(got.offsets_col) == want.offsets_col


# --------------------------------------------------------------------- vector conversions


def test_point_vectors_in_every_spelling():
    """Point vectors convert from the oneof spellings and from the deprecated flat `data`."""
    legacy_sparse = ppb.Vector(data=[0.5, 0.25], indices=ppb.SparseIndices(data=[3, 9]))
    legacy_multi = ppb.Vector(data=[1, 2, 3, 4, 5, 6], vectors_count=3)
    named = ppb.Vectors(
        vectors=ppb.NamedVectors(
            vectors={
                "d": ppb.Vector(dense=ppb.DenseVector(data=[1.0, 2.0])),
                "old": ppb.Vector(data=[3.0, 4.0]),
                "s": legacy_sparse,
                "m": legacy_multi,
                "md": ppb.Vector(
                    multi_dense=ppb.MultiDenseVector(vectors=[ppb.DenseVector(data=[1.0])])
                ),
            }
        )
    )
    out = point_vector_to_edge(named)
    assert out["d"] == [1.0, 2.0]
    assert out["old"] == [3.0, 4.0]
    assert (out["s"].indices, out["s"].values) == ([3, 9], [0.5, 0.25])
    assert out["m"] == [[1, 2], [3, 4], [5, 6]]
    assert out["md"] == [[1.0]]
    single = ppb.Vectors(vector=ppb.Vector(sparse=ppb.SparseVector(indices=[1], values=[2.0])))
    assert set(point_vector_to_edge(single)) == {""}


@pytest.mark.parametrize(
    ("vectors_", "error"),
    [
        (ppb.Vectors(), InvalidArgument),
        (ppb.Vectors(vector=ppb.Vector()), InvalidArgument),
        (ppb.Vectors(vector=ppb.Vector(data=[1, 2, 3], vectors_count=2)), InvalidArgument),
        (ppb.Vectors(vector=ppb.Vector(document=ppb.Document(text="x"))), Unimplemented),
        (ppb.Vectors(vector=ppb.Vector(image=ppb.Image())), Unimplemented),
        (
            ppb.Vectors(vector=ppb.Vector(sparse=ppb.SparseVector(indices=[1, 1], values=[1, 2]))),
            InvalidArgument,
        ),
        (
            ppb.Vectors(vector=ppb.Vector(sparse=ppb.SparseVector(indices=[1, 2], values=[1]))),
            InvalidArgument,
        ),
    ],
)
def test_bad_or_inference_vectors_are_refused(vectors_, error):
    """Empty, uneven or repeating vectors are invalid; inference inputs are unimplemented."""
    with pytest.raises(error):
        point_vector_to_edge(vectors_)


def test_vectors_output_uses_the_oneof_spellings():
    """Engine vectors go back as `dense`, `sparse`, `multi_dense`, named ones in `vectors`."""
    out = vectors_output({"a": [1.0], "b": qe.SparseVector([2], [0.5]), "c": [[1.0], [2.0]]})
    kinds = {k: v.WhichOneof("vector") for k, v in out.vectors.vectors.items()}
    assert kinds == {"a": "dense", "b": "sparse", "c": "multi_dense"}
    assert not out.vectors.vectors["a"].data  # the deprecated flat field stays empty
    assert vectors_output([1.0, 2.0]).vector.dense.data == [1.0, 2.0]


def test_selectors_default_to_nothing():
    """Unset payload and vector selectors mean none; set ones are translated."""
    assert with_payload_to_edge(None) is False
    assert with_payload_to_edge(ppb.WithPayloadSelector()) is False
    assert with_vectors_to_edge(None) is False
    assert with_vectors_to_edge(ppb.WithVectorsSelector(enable=True)) is True
    names = ppb.WithVectorsSelector(include=ppb.VectorsSelector(names=["a"]))
    assert with_vectors_to_edge(names) == ["a"]


READ_METHODS = [
    "Search",
    "SearchBatch",
    "SearchGroups",
    "Scroll",
    "Recommend",
    "RecommendBatch",
    "RecommendGroups",
    "Discover",
    "DiscoverBatch",
    "Count",
    "Query",
    "QueryBatch",
    "QueryGroups",
    "Get",
    "Facet",
    "SearchMatrixPairs",
    "SearchMatrixOffsets",
]


def test_every_read_rpc_is_served_by_the_embedded_backend(tmp_path):
    """The embedded backend registers a handler for every read RPC of qdrant.Points."""
    backend = EmbeddedBackend(tmp_path / "data")
    missing = [name for name in READ_METHODS if not backend.supports(f"/qdrant.Points/{name}")]
    backend.catalog.close()
    assert missing == []
