"""Congruence: the same operations through vecgate and on qdrant-client's local mode.

As qdrant-client's own congruence tests compare local and remote, each test runs one
operation on `QdrantClient(":memory:")` and through a real `vecgate serve` (embedded
engine) holding the same points, and compares ids, scores and payloads. The local
collection's payloads include the tags vecgate adds, so payloads compare whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.conversions.conversion import GrpcToRest
from qdrant_client.grpc import points_pb2 as ppb
from qdrant_client.grpc import qdrant_common_pb2 as common

from tests.gatewayproc import GatewayProcess

COLLECTION = "congruence"
IDENTITY = "emb@1"
TAGS = {"embedding_model": "emb", "embedding_version": "1"}
N_POINTS = 300
SCORE_TOL = 1e-4


@pytest.fixture(scope="module")
def gateway(gateway_each_backend: GatewayProcess) -> GatewayProcess:
    """This suite runs through vecgate on every backend (conftest.BACKENDS)."""
    return gateway_each_backend


#: Tests whose construct Milvus cannot answer exactly: on Milvus vecgate answers
#: UNIMPLEMENTED naming it (asserted by test_milvus_refuses_what_it_cannot_answer_exactly;
#: docs/semantics.md, "On Milvus").
MILVUS_UNIMPLEMENTED = {
    "test_query_with_prefetch_and_fusion": "Query `prefetch` (and fusion)",
    "test_recommend_by_ids[milvus-best_score]": "recommend strategy `best_score`",
    "test_recommend_by_ids[milvus-sum_scores]": "recommend strategy `sum_scores`",
    "test_discover_and_context": "Query `discover` / `context`",
    "test_groups": "QueryGroups / SearchGroups",
    "test_legacy_search_recommend_discover_rpcs": "SearchGroups (Search and Recommend are "
    "compared in test_milvus_legacy_search_and_recommend)",
    "test_scroll_order_by": "Scroll `order_by`",
    "test_facet": "Facet",
}


@pytest.fixture(autouse=True)
def _milvus_unimplemented(request: pytest.FixtureRequest) -> None:
    """Skip, on Milvus only, what Milvus answers with UNIMPLEMENTED (asserted below)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("gateway_each_backend") != "milvus":
        return
    for key in (request.node.name, request.node.name.split("[")[0]):
        if key in MILVUS_UNIMPLEMENTED:
            pytest.skip(f"Milvus answers UNIMPLEMENTED: {MILVUS_UNIMPLEMENTED[key]}")


def _payload(n: int, origin: str) -> dict[str, Any]:
    return {
        "n": n,
        "source": origin.split(":")[1].split("/", maxsplit=1)[0],  # the stdlib module it documents
        "bucket": n % 7,
        "score": round((n * 37 % 101) / 10.0, 1),
        "words": ["even" if n % 2 == 0 else "odd", f"mod3_{n % 3}"],
        "meta": {"page": n // 10, "flag": n % 5 == 0},
        **TAGS,
    }


@pytest.fixture(scope="module")
def data(embeddings) -> dict[str, Any]:
    import json
    from pathlib import Path

    with (Path(__file__).parent.parent / "data" / "texts.jsonl").open() as lines:
        texts = [json.loads(line) for line in lines]
    vectors = embeddings["corpus_minilm"][:N_POINTS]
    payloads = [_payload(n, texts[n]["origin"]) for n in range(N_POINTS)]
    return {"vectors": vectors, "payloads": payloads, "queries": embeddings["query_minilm"]}


def _fill(client: QdrantClient, data: dict[str, Any], *, strip_tags: bool) -> None:
    client.create_collection(
        COLLECTION, vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE)
    )
    points = []
    for n, (vector, payload) in enumerate(zip(data["vectors"], data["payloads"], strict=True)):
        body = {k: v for k, v in payload.items() if not (strip_tags and k in TAGS)}
        points.append(models.PointStruct(id=n, vector=vector.tolist(), payload=body))
    client.upsert(COLLECTION, points)


@pytest.fixture(scope="module")
def pair(gateway: GatewayProcess, data) -> Iterator[tuple[QdrantClient, QdrantClient]]:
    """(vecgate client, local-mode client) holding the same points."""
    local = QdrantClient(":memory:")
    _fill(local, data, strip_tags=False)
    remote = gateway.client(IDENTITY)
    _fill(remote, data, strip_tags=True)  # vecgate adds the tags itself
    yield remote, local
    local.close()
    remote.close()


def compare_scored(remote: list[Any], local: list[Any], *, payloads: bool = True) -> None:
    """Same hits in the same order (ties may swap), same scores and payloads.

    Points tied at the last score may differ: the limit cuts that tie arbitrarily in
    both engines (qdrant-client's congruence tests make the same allowance).
    """
    assert len(remote) == len(local), (len(remote), len(local))
    for r, loc in zip(remote, local, strict=True):
        assert abs(r.score - loc.score) < SCORE_TOL, (r.id, r.score, loc.id, loc.score)
    groups: dict[float, tuple[set[Any], set[Any]]] = {}
    for r, loc in zip(remote, local, strict=True):
        key = round(loc.score, 4)
        groups.setdefault(key, (set(), set()))
        groups[key][0].add(r.id)
        groups[key][1].add(loc.id)
    last = round(local[-1].score, 4) if local else None
    for key, (rids, lids) in groups.items():
        if key == last:  # tied at the cut-off: any of the tied points is a right answer
            continue
        assert rids == lids, (key, rids, lids)
    if payloads:
        by_id = {loc.id: loc.payload for loc in local}
        for r in remote:
            assert r.payload == by_id[r.id], r.id


def compare_records(remote: list[Any], local: list[Any]) -> None:
    """Same records in the same order with the same payloads."""
    assert [r.id for r in remote] == [loc.id for loc in local]
    assert [r.payload for r in remote] == [loc.payload for loc in local]


def _index(client: QdrantClient, field: str, kind: models.PayloadSchemaType) -> None:
    """Create a payload index (local mode only warns that it has no effect there)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Payload indexes have no effect")
        client.create_payload_index(COLLECTION, field, kind)


def both(pair, method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    remote, local = pair
    return getattr(remote, method)(*args, **kwargs), getattr(local, method)(*args, **kwargs)


# -- search and query --------------------------------------------------------------------


@pytest.mark.parametrize("q", [0, 7, 42])
def test_nearest_search(pair, data, q):
    """Top-10 nearest neighbours with payloads match local mode."""
    query = data["queries"][q].tolist()
    remote, local = both(pair, "query_points", COLLECTION, query=query, limit=10, with_payload=True)
    compare_scored(remote.points, local.points)


def test_search_with_filter_offset_and_threshold(pair, data):
    """Filters (match, range, nested key, must_not), offset and score threshold match local mode."""
    flt = models.Filter(
        must=[
            models.FieldCondition(key="source", match=models.MatchValue(value="asyncio")),
            models.FieldCondition(key="score", range=models.Range(gte=2.0, lt=8.5)),
        ],
        must_not=[models.FieldCondition(key="meta.flag", match=models.MatchValue(value=True))],
        should=[
            models.FieldCondition(key="bucket", match=models.MatchAny(any=[1, 2, 3])),
            models.FieldCondition(key="words", match=models.MatchValue(value="even")),
        ],
    )
    remote, local = both(
        pair,
        "query_points",
        COLLECTION,
        query=data["queries"][3].tolist(),
        query_filter=flt,
        limit=15,
        offset=3,
        score_threshold=0.05,
        with_payload=True,
    )
    assert remote.points
    compare_scored(remote.points, local.points)


def test_query_with_prefetch_and_fusion(pair, data):
    """Filtered prefetches fused with RRF, and a re-scored nested prefetch, match local mode."""
    q1, q2 = data["queries"][5].tolist(), data["queries"][9].tolist()
    prefetch = [
        models.Prefetch(
            query=q1,
            limit=30,
            filter=models.Filter(
                must=[
                    models.FieldCondition(
                        key="source", match=models.MatchValue(value="_pydecimal.py")
                    )
                ]
            ),
        ),
        models.Prefetch(query=q2, limit=30),
    ]
    remote, local = both(
        pair,
        "query_points",
        COLLECTION,
        prefetch=prefetch,
        query=models.FusionQuery(fusion=models.Fusion.RRF),
        limit=10,
        with_payload=True,
    )
    compare_scored(remote.points, local.points)
    remote, local = both(
        pair,
        "query_points",
        COLLECTION,
        prefetch=models.Prefetch(query=q2, limit=50, prefetch=models.Prefetch(query=q1, limit=100)),
        query=q1,
        limit=10,
        with_payload=["n", "bucket"],
    )
    compare_scored(remote.points, local.points)


def test_query_batch(pair, data):
    """A batch of queries answers each like local mode, in order."""
    requests = [
        models.QueryRequest(query=data["queries"][i].tolist(), limit=5, with_payload=True)
        for i in (11, 12, 13)
    ]
    remote, local = both(pair, "query_batch_points", COLLECTION, requests)
    for r, loc in zip(remote, local, strict=True):
        compare_scored(r.points, loc.points)


@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
def test_recommend_by_ids(pair, strategy):
    """Recommend by point ids (examples excluded from the results) matches local mode."""
    query = models.RecommendQuery(
        recommend=models.RecommendInput(positive=[1, 2, 30], negative=[7], strategy=strategy)
    )
    remote, local = both(pair, "query_points", COLLECTION, query=query, limit=10, with_payload=True)
    assert not {1, 2, 30, 7} & {p.id for p in remote.points}
    compare_scored(remote.points, local.points)


def test_discover_and_context(pair, data):
    """Discovery (target + context pairs) and context search match local mode."""
    pairs = [
        models.ContextPair(positive=10, negative=20),
        models.ContextPair(positive=11, negative=21),
    ]
    query = models.DiscoverQuery(
        discover=models.DiscoverInput(target=data["queries"][1].tolist(), context=pairs)
    )
    remote, local = both(pair, "query_points", COLLECTION, query=query, limit=10, with_payload=True)
    compare_scored(remote.points, local.points)
    remote, local = both(
        pair,
        "query_points",
        COLLECTION,
        query=models.ContextQuery(context=pairs),
        limit=10,
    )
    compare_scored(remote.points, local.points, payloads=False)


def test_groups(pair, data):
    """Query groups by a payload key give the same groups and hits as local mode."""
    remote, local = both(
        pair,
        "query_points_groups",
        COLLECTION,
        group_by="bucket",
        query=data["queries"][4].tolist(),
        limit=4,
        group_size=3,
        with_payload=True,
    )
    assert [g.id for g in remote.groups] == [g.id for g in local.groups]
    for rg, lg in zip(remote.groups, local.groups, strict=True):
        compare_scored(rg.hits, lg.hits)


def _legacy_search_and_recommend(pair: Any, data: Any) -> None:
    """Search and Recommend (the pre-Query RPCs) answer like local mode's query."""
    remote, local = pair
    meta = [("x-embedding-model", IDENTITY)]
    query = data["queries"][2]
    reply = remote.grpc_points.Search(
        ppb.SearchPoints(
            collection_name=COLLECTION,
            vector=query.tolist(),
            limit=10,
            with_payload=ppb.WithPayloadSelector(enable=True),
        ),
        metadata=meta,
        timeout=30,
    )
    compare_scored(
        [GrpcToRest.convert_scored_point(p) for p in reply.result],
        local.query_points(COLLECTION, query=query.tolist(), limit=10, with_payload=True).points,
    )
    reply = remote.grpc_points.Recommend(
        ppb.RecommendPoints(
            collection_name=COLLECTION,
            positive=[common.PointId(num=5)],
            negative=[common.PointId(num=6)],
            limit=10,
            strategy=ppb.RecommendStrategy.AverageVector,
        ),
        metadata=meta,
        timeout=30,
    )
    expected = local.query_points(
        COLLECTION,
        query=models.RecommendQuery(recommend=models.RecommendInput(positive=[5], negative=[6])),
        limit=10,
    ).points
    compare_scored(
        [GrpcToRest.convert_scored_point(p) for p in reply.result], expected, payloads=False
    )


def test_legacy_search_recommend_discover_rpcs(pair, data):
    """The pre-Query RPCs (Search, Recommend, SearchGroups) answer like local mode's query."""
    _legacy_search_and_recommend(pair, data)
    remote, local = pair
    meta = [("x-embedding-model", IDENTITY)]
    query = data["queries"][2]

    request = ppb.SearchPointGroups(
        collection_name=COLLECTION,
        vector=query.tolist(),
        group_by="bucket",
        limit=3,
        group_size=2,
        with_payload=ppb.WithPayloadSelector(enable=True),
    )
    reply = remote.grpc_points.SearchGroups(request, metadata=meta, timeout=30)
    expected_groups = local.query_points_groups(
        COLLECTION,
        group_by="bucket",
        query=query.tolist(),
        limit=3,
        group_size=2,
        with_payload=True,
    ).groups
    got = [GrpcToRest.convert_point_group(g) for g in reply.result.groups]
    assert [g.id for g in got] == [g.id for g in expected_groups]


# -- reads ----------------------------------------------------------------------------------


def test_scroll_pages_and_count(pair):
    """Scroll pages (offset id, limit, filter) and counts match local mode."""
    flt = models.Filter(
        must=[models.FieldCondition(key="bucket", match=models.MatchAny(any=[0, 3]))]
    )
    r_offset = l_offset = None
    pages = 0
    while True:
        (r_records, r_offset), (l_records, l_offset) = (
            pair[0].scroll(
                COLLECTION, scroll_filter=flt, limit=17, offset=r_offset, with_payload=True
            ),
            pair[1].scroll(
                COLLECTION, scroll_filter=flt, limit=17, offset=l_offset, with_payload=True
            ),
        )
        compare_records(r_records, l_records)
        assert r_offset == l_offset
        pages += 1
        if r_offset is None:
            break
    assert pages > 2
    remote, local = both(pair, "count", COLLECTION, count_filter=flt, exact=True)
    assert remote.count == local.count > 0
    remote, local = both(pair, "count", COLLECTION)
    assert remote.count == local.count == N_POINTS


def test_scroll_order_by(pair):
    """Scroll ordered by a payload field (with its index) matches local mode."""
    remote, local = pair
    for client in pair:
        _index(client, "score", models.PayloadSchemaType.FLOAT)
    r, _ = remote.scroll(
        COLLECTION,
        limit=20,
        order_by=models.OrderBy(key="score", direction="desc"),
        with_payload=True,
    )
    loc, _ = local.scroll(
        COLLECTION,
        limit=20,
        order_by=models.OrderBy(key="score", direction="desc"),
        with_payload=True,
    )
    assert [p.payload["score"] for p in r] == [p.payload["score"] for p in loc]


def test_retrieve_with_vectors(pair, data):
    """Retrieve by ids returns the same payloads and (normalised) vectors as local mode."""
    remote, local = both(
        pair, "retrieve", COLLECTION, [3, 1, 299, 10_000], with_payload=True, with_vectors=True
    )
    assert sorted(r.id for r in remote) == sorted(loc.id for loc in local) == [1, 3, 299]
    by_id = {loc.id: loc for loc in local}
    for record in remote:
        assert record.payload == by_id[record.id].payload
        np.testing.assert_allclose(record.vector, by_id[record.id].vector, atol=1e-6)


def test_facet(pair):
    """Facet counts of a keyword field match local mode."""
    remote, local = pair
    for client in pair:
        _index(client, "source", models.PayloadSchemaType.KEYWORD)
    r = remote.facet(COLLECTION, "source", exact=True)
    loc = local.facet(COLLECTION, "source", exact=True)
    assert sorted((h.value, h.count) for h in r.hits) == sorted(
        (h.value, h.count) for h in loc.hits
    )


# -- payload operations (last: they change the data) -------------------------------------------


def test_payload_operations(pair):
    """Set, overwrite, delete and clear payload give the same payloads as local mode, tags kept."""
    remote, local = pair
    for client, keep in ((remote, {}), (local, TAGS)):
        client.set_payload(COLLECTION, {"colour": "red", "meta": {"page": 99}}, points=[1, 2, 3])
        client.set_payload(COLLECTION, {"depth": 2}, points=[4], key="meta")
        client.overwrite_payload(COLLECTION, {"only": True, **keep}, points=[5])
        client.delete_payload(COLLECTION, ["bucket", "words"], points=[6, 7])
        client.clear_payload(COLLECTION, points_selector=[8])
        if keep:  # vecgate keeps the tags on clear; reproduce that on local mode
            client.set_payload(COLLECTION, keep, points=[8])
        client.set_payload(
            COLLECTION,
            {"selected": 1},
            points=models.Filter(
                must=[models.FieldCondition(key="n", range=models.Range(gte=290))]
            ),
        )
    ids = list(range(1, 9)) + list(range(288, 300))
    compare_records(
        sorted(remote.retrieve(COLLECTION, ids, with_payload=True), key=lambda r: r.id),
        sorted(local.retrieve(COLLECTION, ids, with_payload=True), key=lambda r: r.id),
    )


def test_delete_points_and_vectors_batch(pair, data):
    """Delete by ids and by filter, and a batch of updates, leave the same points as local mode."""
    remote, local = pair
    for client in pair:
        client.delete(COLLECTION, points_selector=[100, 101])
        client.delete(
            COLLECTION,
            points_selector=models.Filter(
                must=[models.FieldCondition(key="n", range=models.Range(gte=280, lt=285))]
            ),
        )
    remote.batch_update_points(
        COLLECTION,
        [
            models.UpsertOperation(
                upsert=models.PointsList(
                    points=[
                        models.PointStruct(
                            id=1000, vector=data["vectors"][0].tolist(), payload={"x": 1}
                        )
                    ]
                )
            ),
            models.SetPayloadOperation(
                set_payload=models.SetPayload(payload={"y": 2}, points=[1000])
            ),
        ],
    )
    local.batch_update_points(
        COLLECTION,
        [
            models.UpsertOperation(
                upsert=models.PointsList(
                    points=[
                        models.PointStruct(
                            id=1000, vector=data["vectors"][0].tolist(), payload={"x": 1, **TAGS}
                        )
                    ]
                )
            ),
            models.SetPayloadOperation(
                set_payload=models.SetPayload(payload={"y": 2}, points=[1000])
            ),
        ],
    )
    assert remote.count(COLLECTION).count == local.count(COLLECTION).count
    compare_records(
        remote.retrieve(COLLECTION, [1000, 100, 281], with_payload=True),
        local.retrieve(COLLECTION, [1000, 100, 281], with_payload=True),
    )


# -- Milvus: what it cannot answer exactly is refused by name -----------------------------------


def _on_milvus(request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params.get("gateway_each_backend") != "milvus":
        pytest.skip("Milvus-only: the other backends answer these (tests above)")


def test_milvus_refuses_what_it_cannot_answer_exactly(request, pair, data):
    """On Milvus each construct skipped above answers UNIMPLEMENTED with a sentence naming it."""
    import grpc

    _on_milvus(request)
    remote, _ = pair
    q = data["queries"][5].tolist()
    attempts = {
        "prefetch": lambda: remote.query_points(
            COLLECTION, prefetch=[models.Prefetch(query=q, limit=5)], query=q, limit=3
        ),
        "best_score": lambda: remote.query_points(
            COLLECTION,
            query=models.RecommendQuery(
                recommend=models.RecommendInput(positive=[1], strategy="best_score")
            ),
        ),
        "sum_scores": lambda: remote.query_points(
            COLLECTION,
            query=models.RecommendQuery(
                recommend=models.RecommendInput(positive=[1], strategy="sum_scores")
            ),
        ),
        "discover": lambda: remote.query_points(
            COLLECTION,
            query=models.DiscoverQuery(
                discover=models.DiscoverInput(
                    target=q, context=[models.ContextPair(positive=1, negative=2)]
                )
            ),
        ),
        "context": lambda: remote.query_points(
            COLLECTION,
            query=models.ContextQuery(context=[models.ContextPair(positive=1, negative=2)]),
        ),
        "QueryGroups": lambda: remote.query_points_groups(COLLECTION, group_by="bucket", query=q),
        "order_by": lambda: remote.scroll(
            COLLECTION, limit=3, order_by=models.OrderBy(key="score", direction="desc")
        ),
        "Facet": lambda: remote.facet(COLLECTION, "source"),
        "is_empty": lambda: remote.count(
            COLLECTION,
            count_filter=models.Filter(must=[models.IsEmptyCondition(is_empty={"key": "x"})]),
        ),
        "is_null": lambda: remote.count(
            COLLECTION,
            count_filter=models.Filter(must=[models.IsNullCondition(is_null={"key": "x"})]),
        ),
        "except": lambda: remote.count(
            COLLECTION,
            count_filter=models.Filter(
                must=[
                    models.FieldCondition(
                        key="words", match=models.MatchExcept(**{"except": ["odd"]})
                    )
                ]
            ),
        ),
        "text": lambda: remote.count(
            COLLECTION,
            count_filter=models.Filter(
                must=[models.FieldCondition(key="source", match=models.MatchText(text="x"))]
            ),
        ),
    }
    meta = [("x-embedding-model", IDENTITY)]
    request_groups = ppb.SearchPointGroups(
        collection_name=COLLECTION, vector=q, group_by="bucket", limit=3, group_size=2
    )
    attempts["SearchGroups"] = lambda: remote.grpc_points.SearchGroups(
        request_groups, metadata=meta, timeout=30
    )
    for construct, attempt in attempts.items():
        with pytest.raises(grpc.RpcError) as excinfo:
            attempt()
        assert excinfo.value.code() is grpc.StatusCode.UNIMPLEMENTED, construct
        assert construct in excinfo.value.details(), (construct, excinfo.value.details())


def test_milvus_legacy_search_and_recommend(request, pair, data):
    """On Milvus the pre-Query Search and Recommend RPCs answer like local mode's query."""
    _on_milvus(request)
    _legacy_search_and_recommend(pair, data)
