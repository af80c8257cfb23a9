"""Examples (point ids or inline vectors) and the vector queries built from them.

A point referenced by id inside a query (`VectorInput.id`, recommend/discover
examples) is read from the searched collection, or from `lookup_from`, as Qdrant
does, and is excluded from the results when it comes from the searched collection
itself. Vectors follow the stored kind: a list of floats (dense), a list of lists
(multi-dense) or a `qdrant_edge.SparseVector`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.vectors import NO_INFERENCE, sparse_vector, vector_to_edge
from proxy.errors import InvalidArgument, NotFound, Unimplemented
from proxy.values import PointKey, point_id_to_python

if TYPE_CHECKING:
    from adapters.embedded.catalog import Catalog, Collection

#: A recommend/discover example: a point id to look up, or a vector given inline.
Example = PointKey | list[float] | list[list[float]] | qe.SparseVector

_INFERENCE_INPUTS = frozenset({"document", "image", "object"})


# --------------------------------------------------------------------- scope and ids


@dataclass
class Scope:
    """One request against one collection; collects the ids to exclude from its results."""

    catalog: Catalog
    collection: Collection
    excluded: set[PointKey] = field(default_factory=set)

    def resolver(self, using: str, lookup_from: ppb.LookupLocation | None) -> Resolver:
        """A resolver for examples of a query that searches vector `using`."""
        source = self.collection
        vector_name = using
        if lookup_from is not None:
            if lookup_from.collection_name:
                source = self.catalog.get(lookup_from.collection_name)
            if lookup_from.HasField("vector_name"):
                vector_name = lookup_from.vector_name
        same = source.name == self.collection.name
        return Resolver(source, vector_name, self.excluded if same else None)

    def exclusion_filter(self, user_filter: qe.Filter | None) -> qe.Filter | None:
        """`user_filter` narrowed to leave out the referenced ids of this collection."""
        if not self.excluded:
            return user_filter
        return qe.Filter(
            must=[user_filter] if user_filter is not None else None,
            must_not=[qe.HasIdCondition(set(self.excluded))],
        )


@dataclass
class Resolver:
    """Turns examples into vectors, reading ids from `source`'s vector `vector_name`."""

    source: Collection
    vector_name: str
    excluded: set[PointKey] | None

    def vectors(self, examples: Sequence[Example]) -> list[qe.NamedVector]:
        """The vector of every example, ids looked up in one engine call."""
        ids = [e for e in examples if isinstance(e, int | uuid.UUID)]
        if not ids:
            return list(examples)  # type: ignore[arg-type]  # no ids: all are vectors
        found = self._fetch(ids)
        if self.excluded is not None:
            self.excluded.update(ids)
        return [found[e] if isinstance(e, int | uuid.UUID) else e for e in examples]

    def vector(self, example: Example) -> qe.NamedVector:
        """The vector of one example."""
        return self.vectors([example])[0]

    def _fetch(self, ids: list[PointKey]) -> dict[PointKey, qe.NamedVector]:
        """Stored vectors of `ids`; a missing point or vector is `NotFound`."""
        records = self.source.shard.retrieve(
            list(dict.fromkeys(ids)), with_payload=False, with_vector=[self.vector_name]
        )
        found: dict[PointKey, qe.NamedVector] = {}
        for record in records:
            vector = _named(record.vector, self.vector_name)
            if vector is None:
                raise NotFound(
                    f'Not found: Vector with name "{self.vector_name}" for point {record.id}'
                )
            found[_key(record.id)] = vector
        for point_id in ids:
            if point_id not in found:
                raise NotFound(f"Not found: No point with id {point_id} found")
        return found


def _key(point_id: Any) -> PointKey:
    """An engine point id as the key type used here (int or UUID)."""
    if isinstance(point_id, int | uuid.UUID):
        return point_id
    return uuid.UUID(str(point_id))


def _named(vector: Any, name: str) -> qe.NamedVector | None:
    """The vector called `name` in an engine record's vector field."""
    if vector is None:
        return None
    if isinstance(vector, dict):
        named: qe.NamedVector | None = vector.get(name)
        return named
    if name == "":
        single: qe.NamedVector = vector
        return single
    return None


# --------------------------------------------------------------------- inputs


def vector_input(v: ppb.VectorInput) -> Example:
    """A query `VectorInput`: a point id or an inline dense/sparse/multi-dense vector."""
    kind = v.WhichOneof("variant")
    if kind == "id":
        return point_id_to_python(v.id)
    if kind == "dense":
        return list(v.dense.data)
    if kind == "sparse":
        return sparse_vector(v.sparse.indices, v.sparse.values)
    if kind == "multi_dense":
        return [list(row.data) for row in v.multi_dense.vectors]
    if kind in _INFERENCE_INPUTS:
        raise Unimplemented(NO_INFERENCE)
    raise InvalidArgument("a query vector input is empty; set an id or a vector")


def vector_example(v: ppb.VectorExample) -> Example:
    """A recommend/discover `VectorExample`: a point id or an inline vector."""
    kind = v.WhichOneof("example")
    if kind == "id":
        return point_id_to_python(v.id)
    if kind == "vector":
        return vector_to_edge(v.vector)
    raise InvalidArgument("an example is empty; set a point id or a vector")


# --------------------------------------------------------------------- vector queries


def nearest(vector: qe.NamedVector, using: str) -> qe.Query:
    """Nearest neighbours of one vector."""
    return qe.Query.Nearest(vector, using)


def recommend(
    resolver: Resolver,
    positive: Sequence[Example],
    negative: Sequence[Example],
    strategy: int,
    using: str,
) -> qe.Query:
    """A recommend query; the average-vector strategy becomes a nearest query."""
    if strategy == ppb.AverageVector:
        if not positive:
            raise InvalidArgument("At least one positive vector ID required with this strategy")
    elif strategy in (ppb.BestScore, ppb.SumScores):
        if not positive and not negative:
            raise InvalidArgument(
                "At least one positive or negative vector ID required with this strategy"
            )
    else:
        raise InvalidArgument(f"unknown recommend strategy {strategy}")
    vectors = resolver.vectors([*positive, *negative])
    pos, neg = vectors[: len(positive)], vectors[len(positive) :]
    if strategy == ppb.AverageVector:
        return qe.Query.Nearest(average_vector(pos, neg), using)
    query = qe.RecommendQuery(pos, neg)
    if strategy == ppb.BestScore:
        return qe.Query.RecommendBestScore(query, using)
    return qe.Query.RecommendSumScores(query, using)


def average_vector(pos: list[qe.NamedVector], neg: list[qe.NamedVector]) -> qe.NamedVector:
    """Qdrant's average-vector recommendation: `avg(pos) + avg(pos) - avg(neg)`."""
    every = [*pos, *neg]
    if all(isinstance(v, qe.SparseVector) for v in every):
        return _average_sparse(pos, neg)  # type: ignore[arg-type]
    if all(isinstance(v, list) and v and isinstance(v[0], list) for v in every):
        return _average_multi(pos, neg)  # type: ignore[arg-type]
    if all(isinstance(v, list) and (not v or not isinstance(v[0], list)) for v in every):
        return _average_dense(pos, neg)  # type: ignore[arg-type]
    raise InvalidArgument("recommend examples mix dense, sparse and multi-vectors; use one kind")


def _average_dense(pos: list[list[float]], neg: list[list[float]]) -> list[float]:
    """Dense average: twice the positive mean minus the negative mean."""
    try:
        mean = np.mean(np.asarray(pos, dtype=np.float64), axis=0)
        if neg:
            mean = mean + mean - np.mean(np.asarray(neg, dtype=np.float64), axis=0)
    except ValueError:
        raise InvalidArgument("recommend examples have different dimensions") from None
    result: list[float] = mean.tolist()
    return result


def _average_sparse(pos: list[qe.SparseVector], neg: list[qe.SparseVector]) -> qe.SparseVector:
    """Sparse average over the union of indices (absent = 0)."""
    mean = _sparse_mean(pos)
    if neg:
        mean_neg = _sparse_mean(neg)
        for index in mean.keys() | mean_neg.keys():
            value = mean.get(index, 0.0)
            mean[index] = value + value - mean_neg.get(index, 0.0)
    indices = sorted(mean)
    return qe.SparseVector(indices, [mean[i] for i in indices])


def _sparse_mean(vectors: list[qe.SparseVector]) -> dict[int, float]:
    """Mean of sparse vectors as index -> value."""
    total: dict[int, float] = {}
    for v in vectors:
        for index, value in zip(v.indices, v.values, strict=True):
            total[index] = total.get(index, 0.0) + value
    return {index: value / len(vectors) for index, value in total.items()}


def _average_multi(pos: list[list[list[float]]], neg: list[list[list[float]]]) -> list[list[float]]:
    """Multi-vector "average": every positive row, and every negative row negated."""
    rows = [row for multi in pos for row in multi]
    rows.extend([-x for x in row] for multi in neg for row in multi)
    return rows


def context_pairs(
    resolver: Resolver, pairs: Sequence[tuple[Example, Example]]
) -> list[qe.ContextPair]:
    """Positive/negative context pairs, ids resolved together."""
    flat = resolver.vectors([e for pair in pairs for e in pair])
    return [qe.ContextPair(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def discover(
    resolver: Resolver,
    target: Example | None,
    pairs: Sequence[tuple[Example, Example]],
    using: str,
) -> qe.Query:
    """A discover query, or a context query when there is no target."""
    if target is None:
        if not pairs:
            raise InvalidArgument("a discover request needs a target or context pairs")
        return qe.Query.Context(qe.ContextQuery(context_pairs(resolver, pairs)), using)
    target_vector = resolver.vector(target)
    return qe.Query.Discover(qe.DiscoverQuery(target_vector, context_pairs(resolver, pairs)), using)
