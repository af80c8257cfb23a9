"""Engine query requests (`QueryRequest`, `Prefetch`, scoring queries) from protobuf.

`universal_query` reads `QueryPoints` / `QueryPointGroups` (prefetch stages, any query
variant); `vector_query` wraps the one-stage queries of Search, Recommend and Discover.
Ids referenced anywhere in the request are resolved through the request's `Scope`
(see `examples`), which also leaves them out of the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.examples import (
    Example,
    Resolver,
    Scope,
    context_pairs,
    discover,
    nearest,
    recommend,
    vector_input,
)
from adapters.embedded.filters import to_edge_filter
from adapters.embedded.formulas import formula
from proxy.errors import InvalidArgument, Unimplemented

DEFAULT_LIMIT = 10
DEFAULT_RRF_K = 2
DEFAULT_MMR_DIVERSITY = 0.5


def optional(msg: Any, name: str) -> Any:
    """A message field, or None when it is not set."""
    return getattr(msg, name) if msg.HasField(name) else None


def at_least_one(value: int, name: str) -> int:
    """`value`, checked to be at least 1 (Qdrant validates limits this way)."""
    if value < 1:
        raise InvalidArgument(f"{name} value {value} is invalid. Must be 1 or larger.")
    return value


def search_params(p: ppb.SearchParams | None) -> qe.SearchParams | None:
    """Engine search parameters; `None` when none are set."""
    if p is None or not p.ListFields():
        return None
    quantization = None
    if p.HasField("quantization"):
        q = p.quantization
        quantization = qe.QuantizationSearchParams(
            ignore=q.ignore,
            rescore=q.rescore if q.HasField("rescore") else None,
            oversampling=q.oversampling if q.HasField("oversampling") else None,
        )
    acorn = None
    if p.HasField("acorn"):
        acorn = qe.AcornSearchParams(
            enable=p.acorn.enable,
            max_selectivity=p.acorn.max_selectivity
            if p.acorn.HasField("max_selectivity")
            else None,
        )
    idf = None
    if p.HasField("idf"):
        corpus = p.idf.corpus if p.idf.HasField("corpus") else None
        idf = qe.IdfParams(corpus=to_edge_filter(corpus))
    return qe.SearchParams(
        hnsw_ef=p.hnsw_ef if p.HasField("hnsw_ef") else None,
        exact=p.exact,
        quantization=quantization,
        indexed_only=p.indexed_only,
        acorn=acorn,
        idf=idf,
    )


# --------------------------------------------------------------------- universal query


def scoring_query(q: ppb.Query, using: str, resolver: Resolver, limit: int) -> Any:
    """One protobuf `Query` (any variant) as the engine's scoring query."""
    kind = q.WhichOneof("variant")
    if kind == "nearest":
        return nearest(resolver.vector(vector_input(q.nearest)), using)
    if kind == "recommend":
        r = q.recommend
        strategy = r.strategy if r.HasField("strategy") else ppb.AverageVector
        pos = [vector_input(v) for v in r.positive]
        neg = [vector_input(v) for v in r.negative]
        return recommend(resolver, pos, neg, strategy, using)
    if kind == "discover":
        pairs = _input_pairs(q.discover.context.pairs)
        return discover(resolver, vector_input(q.discover.target), pairs, using)
    if kind == "context":
        pairs = _input_pairs(q.context.pairs)
        return qe.Query.Context(qe.ContextQuery(context_pairs(resolver, pairs)), using)
    if kind == "order_by":
        return order_by(q.order_by)
    if kind == "fusion":
        return _fusion(q.fusion)
    if kind == "rrf":
        k = q.rrf.k if q.rrf.HasField("k") else DEFAULT_RRF_K
        return qe.Fusion.Rrf(k=k, weights=list(q.rrf.weights) or None)
    if kind == "sample":
        return qe.Sample.Random
    if kind == "formula":
        return formula(q.formula)
    if kind == "nearest_with_mmr":
        return _mmr(q.nearest_with_mmr, using, resolver, limit)
    if kind == "relevance_feedback":
        return _relevance_feedback(q.relevance_feedback, using, resolver)
    if kind == "text":
        return _text(q.text, using)
    if kind is None:
        raise InvalidArgument("`query` is set but empty; choose a query variant")
    raise Unimplemented(f"query variant `{kind}` is not supported by the embedded engine")


def _input_pairs(pairs: Sequence[ppb.ContextInputPair]) -> list[tuple[Example, Example]]:
    """Context input pairs as example pairs."""
    return [(vector_input(p.positive), vector_input(p.negative)) for p in pairs]


def _fusion(fusion: int) -> Any:
    """The fusion enum: RRF (k = 2, Qdrant's default) or DBSF."""
    if fusion == ppb.RRF:
        return qe.Fusion.Rrf(k=DEFAULT_RRF_K)
    if fusion == ppb.DBSF:
        return qe.Fusion.Dbsf()
    raise Unimplemented(f"fusion method {fusion} is not supported by the embedded engine")


def order_by(o: ppb.OrderBy) -> qe.OrderBy:
    """Order by a payload field, optionally starting from a value."""
    direction = qe.Direction.Desc if o.direction == ppb.Desc else qe.Direction.Asc
    start: int | float | str | None = None
    if o.HasField("start_from"):
        s = o.start_from
        kind = s.WhichOneof("value")
        if kind == "float":
            start = s.float
        elif kind == "integer":
            start = s.integer
        elif kind == "timestamp":
            start = s.timestamp.ToJsonString()
        elif kind == "datetime":
            start = s.datetime
    return qe.OrderBy(o.key, direction=direction, start_from=start)


def _mmr(m: ppb.NearestInputWithMmr, using: str, resolver: Resolver, limit: int) -> qe.Mmr:
    """Nearest search re-ranked by maximal marginal relevance (lambda = 1 - diversity)."""
    diversity = m.mmr.diversity if m.mmr.HasField("diversity") else DEFAULT_MMR_DIVERSITY
    candidates = m.mmr.candidates_limit if m.mmr.HasField("candidates_limit") else limit
    vector = resolver.vector(vector_input(m.nearest))
    return qe.Mmr(vector, lambda_=1.0 - diversity, candidates_limit=candidates, using=using)


def _relevance_feedback(f: ppb.RelevanceFeedbackInput, using: str, resolver: Resolver) -> qe.Query:
    """Naive relevance feedback: target plus scored examples."""
    if f.strategy.WhichOneof("variant") != "naive":
        raise InvalidArgument("relevance feedback needs a strategy; set `naive`")
    examples = [vector_input(f.target), *(vector_input(item.example) for item in f.feedback)]
    vectors = resolver.vectors(examples)
    items = [
        qe.FeedbackItem(vec, item.score) for vec, item in zip(vectors[1:], f.feedback, strict=True)
    ]
    naive = f.strategy.naive
    strategy = qe.NaiveFeedbackStrategy(naive.a, naive.b, naive.c)
    return qe.Query.FeedbackNaive(qe.FeedbackNaiveQuery(vectors[0], items, strategy), using)


def _text(t: ppb.TextQuery, field_name: str) -> qe.TextQuery:
    """BM25 over the text index of the payload field named by `using`."""
    if not field_name:
        raise InvalidArgument("a text query needs `using` to name the payload field to search")
    scoring = None
    if t.HasField("bm25"):
        scoring = qe.Bm25Params(
            k=t.bm25.k if t.bm25.HasField("k") else None,
            b=t.bm25.b if t.bm25.HasField("b") else None,
        )
    return qe.TextQuery(field_name, t.query, scoring)


# --------------------------------------------------------------------- requests


def validate_query(
    has_query: bool, q: ppb.Query | None, has_prefetch: bool, using: str, has_threshold: bool
) -> None:
    """Qdrant's checks on a query and its prefetches, with Qdrant's messages."""
    kind = q.WhichOneof("variant") if has_query and q is not None else None
    if has_prefetch and not has_query:
        raise InvalidArgument(
            "A query is needed to merge the prefetches. "
            "Can't have prefetches without defining a query."
        )
    if has_threshold:
        if kind == "order_by":
            raise InvalidArgument("Can't use score_threshold with an order_by query.")
        if not has_query:
            raise InvalidArgument(
                "A query is needed to use the score_threshold. "
                "Can't have score_threshold without defining a query."
            )
    if kind in ("fusion", "rrf") and using:
        raise InvalidArgument("Fusion queries cannot be combined with the 'using' field.")


def prefetch(scope: Scope, p: ppb.PrefetchQuery, limit_override: int | None) -> qe.Prefetch:
    """One prefetch stage with its nested stages; ids resolved as Qdrant does."""
    using = p.using
    has_query = p.HasField("query")
    validate_query(has_query, p.query, bool(p.prefetch), using, p.HasField("score_threshold"))
    limit = p.limit if p.HasField("limit") else DEFAULT_LIMIT
    if limit_override is not None:
        limit = limit_override
    query = None
    if has_query:
        lookup = p.lookup_from if p.HasField("lookup_from") else None
        query = scoring_query(p.query, using, scope.resolver(using, lookup), limit)
    return qe.Prefetch(
        limit=limit,
        query=query,
        prefetches=[prefetch(scope, inner, limit_override) for inner in p.prefetch] or None,
        params=search_params(p.params if p.HasField("params") else None),
        filter=to_edge_filter(p.filter if p.HasField("filter") else None),
        score_threshold=p.score_threshold if p.HasField("score_threshold") else None,
    )


@dataclass
class Output:
    """What a request returns per point, and how many."""

    limit: int
    offset: int = 0
    with_payload: qe.WithPayloadType = False
    with_vector: qe.WithVectorType = False


def universal_query(
    scope: Scope, msg: Any, out: Output, prefetch_limit: int | None = None
) -> qe.QueryRequest:
    """A `QueryPoints` or `QueryPointGroups` message as one engine query request."""
    using = msg.using
    has_query = msg.HasField("query")
    has_threshold = msg.HasField("score_threshold")
    validate_query(has_query, msg.query, bool(msg.prefetch), using, has_threshold)
    query = None
    if has_query:
        lookup = msg.lookup_from if msg.HasField("lookup_from") else None
        query = scoring_query(msg.query, using, scope.resolver(using, lookup), out.limit)
    prefetches = [prefetch(scope, p, prefetch_limit) for p in msg.prefetch]
    offset = out.offset
    if query is qe.Sample.Random and not prefetches:
        offset = 0  # Qdrant ignores the offset of an unstable random sample
    user_filter = to_edge_filter(msg.filter if msg.HasField("filter") else None)
    return qe.QueryRequest(
        limit=out.limit,
        offset=offset,
        query=query,
        prefetches=prefetches or None,
        with_vector=out.with_vector,
        with_payload=out.with_payload,
        filter=scope.exclusion_filter(user_filter),
        score_threshold=msg.score_threshold if has_threshold else None,
        params=search_params(msg.params if msg.HasField("params") else None),
    )


def vector_query(
    scope: Scope,
    query: Any,
    *,
    user_filter: qe.Filter | None,
    out: Output,
    params: ppb.SearchParams | None,
    score_threshold: float | None,
) -> qe.QueryRequest:
    """A single-stage vector query (Search, Recommend, Discover) as an engine request."""
    return qe.QueryRequest(
        limit=out.limit,
        offset=out.offset,
        query=query,
        with_vector=out.with_vector,
        with_payload=out.with_payload,
        filter=scope.exclusion_filter(user_filter),
        score_threshold=score_threshold,
        params=search_params(params),
    )
