"""Find every vector and every written point inside a Qdrant request, wherever it nests.

The policy needs them all: a query vector hidden in a nested prefetch, a recommend
example or one search of a batch is compared with stored vectors just the same.
Walkers return references into the request message, so the policy checks and the
tags rewrite the message in place (no copy, no conversion).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.errors import InvalidArgument, Unimplemented


@dataclass(slots=True)
class QueryVector:
    """A raw vector in a query, with the vector name it is compared against."""

    name: str
    where: str
    dense: Sequence[float] | None = None
    multi: Sequence[Sequence[float]] | None = None
    sparse: tuple[Sequence[int], Sequence[float]] | None = None
    #: The `DenseVector` holding `dense` (its only field), when it is one: a bridge
    #: reads and rewrites the vector through its wire bytes (`proxy.wire`).
    message: Any = None


@dataclass(slots=True)
class QueryShape:
    """What a search-family request compares: raw vectors, vector names, lookups."""

    vectors: list[QueryVector]
    names: set[str]
    lookups: list[Any]  # LookupLocation / WithLookup messages naming other collections


_INFERENCE = ("document", "image", "object")


def _inference_refusal(where: str) -> Unimplemented:
    return Unimplemented(
        f"{where}: server-side inference (document, image or object inputs) is not supported "
        "by vecgate; embed on the client and send the vector with its x-embedding-model",
        reason="inference",
    )


def _add_typed(msg: Any, kind: str | None, name: str, where: str, out: QueryShape) -> bool:
    """Add a dense, multi-dense or sparse member (`Vector` and `VectorInput` share them)."""
    out.names.add(name)
    if kind == "dense":
        dense = msg.dense
        out.vectors.append(QueryVector(name, where, dense=dense.data, message=dense))
    elif kind == "multi_dense":
        rows = [v.data for v in msg.multi_dense.vectors]
        out.vectors.append(QueryVector(name, where, multi=rows))
    elif kind == "sparse":
        sparse = msg.sparse
        out.vectors.append(QueryVector(name, where, sparse=(sparse.indices, sparse.values)))
    elif kind in _INFERENCE:
        raise _inference_refusal(where)
    else:
        return False
    return True


def _from_vector_input(msg: Any, name: str, where: str, out: QueryShape) -> None:
    """A `VectorInput` (Query API): an id (no raw vector) or a typed vector."""
    _add_typed(msg, msg.WhichOneof("variant"), name, where, out)


def _from_vector(msg: Any, name: str, where: str, out: QueryShape) -> None:
    """A `Vector` (recommend/discover examples, points): typed, or the legacy flat form."""
    if _add_typed(msg, msg.WhichOneof("vector"), name, where, out):
        return
    if msg.HasField("indices"):
        out.vectors.append(QueryVector(name, where, sparse=(msg.indices.data, msg.data)))
    elif msg.vectors_count > 1:
        data, count = msg.data, msg.vectors_count
        if len(data) % count or len(data) < count:
            raise InvalidArgument(
                f"{where}: {len(data)} values cannot be split into {count} non-empty vectors "
                "of equal size"
            )
        size = len(data) // count
        out.vectors.append(
            QueryVector(name, where, multi=[data[i : i + size] for i in range(0, len(data), size)])
        )
    elif len(msg.data):
        out.vectors.append(QueryVector(name, where, dense=msg.data))


def _from_query(msg: Any, name: str, where: str, out: QueryShape) -> None:
    """A `Query` oneof of the Query API."""
    kind = msg.WhichOneof("variant")
    if kind == "nearest":
        _from_vector_input(msg.nearest, name, where, out)
    elif kind == "nearest_with_mmr":
        _from_vector_input(msg.nearest_with_mmr.nearest, name, where, out)
    elif kind == "recommend":
        for i, item in enumerate(msg.recommend.positive):
            _from_vector_input(item, name, f"{where}.recommend.positive[{i}]", out)
        for i, item in enumerate(msg.recommend.negative):
            _from_vector_input(item, name, f"{where}.recommend.negative[{i}]", out)
    elif kind in ("discover", "context"):
        if kind == "discover":
            _from_vector_input(msg.discover.target, name, f"{where}.discover.target", out)
        pairs = msg.discover.context.pairs if kind == "discover" else msg.context.pairs
        for i, pair in enumerate(pairs):
            _from_vector_input(pair.positive, name, f"{where}.{kind}.pairs[{i}].positive", out)
            _from_vector_input(pair.negative, name, f"{where}.{kind}.pairs[{i}].negative", out)
    elif kind == "relevance_feedback":
        feedback = msg.relevance_feedback
        _from_vector_input(feedback.target, name, f"{where}.relevance_feedback.target", out)
        for i, item in enumerate(feedback.feedback):
            _from_vector_input(item.example, name, f"{where}.relevance_feedback[{i}]", out)
    # order_by, fusion, rrf, sample, formula and BM25 text queries carry no model vector.


def _from_query_points(msg: Any, where: str, out: QueryShape) -> None:
    """`QueryPoints`, `QueryPointGroups` and `PrefetchQuery`, prefetches included."""
    using = msg.using
    for i, prefetch in enumerate(msg.prefetch):
        _from_query_points(prefetch, f"{where}prefetch[{i}].", out)
    if msg.HasField("query"):
        _from_query(msg.query, using, f"{where}query", out)
    if msg.HasField("lookup_from"):
        out.lookups.append(msg.lookup_from)
        out.names.add(using)


def _from_search_points(msg: Any, where: str, out: QueryShape) -> None:
    name = msg.vector_name
    out.names.add(name)
    if msg.HasField("sparse_indices"):
        out.vectors.append(QueryVector(name, where, sparse=(msg.sparse_indices.data, msg.vector)))
    else:
        out.vectors.append(QueryVector(name, where, dense=msg.vector))


def _from_recommend_points(msg: Any, where: str, out: QueryShape) -> None:
    name = msg.using
    out.names.add(name)
    for i, vector in enumerate(msg.positive_vectors):
        _from_vector(vector, name, f"{where}positive_vectors[{i}]", out)
    for i, vector in enumerate(msg.negative_vectors):
        _from_vector(vector, name, f"{where}negative_vectors[{i}]", out)
    if msg.HasField("lookup_from"):
        out.lookups.append(msg.lookup_from)


def _from_example(msg: Any, name: str, where: str, out: QueryShape) -> None:
    if msg.HasField("vector"):
        _from_vector(msg.vector, name, where, out)


def _from_discover_points(msg: Any, where: str, out: QueryShape) -> None:
    name = msg.using
    out.names.add(name)
    if msg.HasField("target"):
        _from_example(msg.target.single, name, f"{where}target", out)
    for i, pair in enumerate(msg.context):
        _from_example(pair.positive, name, f"{where}context[{i}].positive", out)
        _from_example(pair.negative, name, f"{where}context[{i}].negative", out)
    if msg.HasField("lookup_from"):
        out.lookups.append(msg.lookup_from)


def query_shape(op_name: str, request: Any) -> QueryShape:
    """Every raw vector, vector name and cross-collection lookup of a search request."""
    out = QueryShape([], set(), [])
    if op_name in ("Search", "SearchGroups"):
        _from_search_points(request, "", out)
    elif op_name == "SearchBatch":
        for i, item in enumerate(request.search_points):
            _from_search_points(item, f"search_points[{i}].", out)
    elif op_name in ("Recommend", "RecommendGroups"):
        _from_recommend_points(request, "", out)
    elif op_name == "RecommendBatch":
        for i, item in enumerate(request.recommend_points):
            _from_recommend_points(item, f"recommend_points[{i}].", out)
    elif op_name == "Discover":
        _from_discover_points(request, "", out)
    elif op_name == "DiscoverBatch":
        for i, item in enumerate(request.discover_points):
            _from_discover_points(item, f"discover_points[{i}].", out)
    elif op_name in ("Query", "QueryGroups"):
        _from_query_points(request, "", out)
    elif op_name == "QueryBatch":
        for i, item in enumerate(request.query_points):
            _from_query_points(item, f"query_points[{i}].", out)
    elif op_name in ("SearchMatrixPairs", "SearchMatrixOffsets"):
        out.names.add(request.using)
    if op_name.endswith("Groups") and request.HasField("with_lookup"):
        out.lookups.append(request.with_lookup)
    for item in out.vectors:
        if not item.where:
            item.where = "vector"
    return out


def written_points(op_name: str, request: Any) -> Iterator[tuple[str, Any]]:
    """(where, PointStruct or PointVectors) for every point a write request stores."""
    if op_name in ("Upsert", "UpdateVectors"):
        for i, point in enumerate(request.points):
            yield f"points[{i}]", point
    elif op_name == "UpdateBatch":
        for i, operation in enumerate(request.operations):
            kind = operation.WhichOneof("operation")
            if kind in ("upsert", "update_vectors"):
                for j, point in enumerate(getattr(operation, kind).points):
                    yield f"operations[{i}].{kind}.points[{j}]", point


class Written:
    """The points a write request stores, as (where, point); listed only when iterated.

    Building the (label, point) pairs costs a Python step per point, which the fast
    paths of an upsert never need: they read `count` and `points` (one C-level list).
    """

    __slots__ = ("_listed", "_op_name", "_request", "count")

    def __init__(self, op_name: str = "", request: Any = None, count: int | None = None) -> None:
        self._op_name, self._request = op_name, request
        self._listed: list[tuple[str, Any]] | None = None
        if count is None:
            self._listed = list(written_points(op_name, request)) if request is not None else []
            count = len(self._listed)
        self.count = count

    def _pairs(self) -> list[tuple[str, Any]]:
        if self._listed is None:
            self._listed = list(written_points(self._op_name, self._request))
        return self._listed

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._pairs())

    def __len__(self) -> int:
        return self.count

    @property
    def points(self) -> list[Any]:
        """The point messages alone, in order."""
        if self._listed is None and self._op_name == "Upsert":
            return list(self._request.points)
        return [point for _, point in self._pairs()]


def point_vectors(point: Any, where: str) -> Iterator[QueryVector]:
    """The vectors of one written point, each with its vector name."""
    vectors = point.vectors
    which = vectors.WhichOneof("vectors_options")
    shape = QueryShape([], set(), [])
    if which == "vector":
        _from_vector(vectors.vector, "", f"{where}.vector", shape)
    elif which == "vectors":
        for name, vector in vectors.vectors.vectors.items():
            _from_vector(vector, name, f"{where}.vectors[{name!r}]", shape)
    yield from shape.vectors


def point_vector_names(point: Any) -> list[str]:
    """The vector names a written point carries."""
    vectors = point.vectors
    which = vectors.WhichOneof("vectors_options")
    if which == "vector":
        return [""]
    if which == "vectors":
        return list(vectors.vectors.vectors.keys())
    return []
