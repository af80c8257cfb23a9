"""Twin collections for the embedded read tests: one in a real `Catalog`, one in local mode.

`Twins.create` makes the same collection on both sides and `Twins.upsert` writes the same
points (the embedded side straight through the engine, so these tests do not depend on
the write handlers). `Twins.call` runs an embedded handler with a protobuf request.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import qdrant_edge as qe
from qdrant_client import QdrantClient
from qdrant_client import models as m
from qdrant_client.conversions.conversion import GrpcToRest
from qdrant_client.grpc import collections_pb2 as cpb

from adapters.embedded import reads  # noqa: F401 - registers the read handlers
from adapters.embedded.catalog import Catalog
from adapters.embedded.dispatch import HANDLERS

DISTANCES = {
    m.Distance.COSINE: (qe.Distance.Cosine, cpb.Cosine),
    m.Distance.EUCLID: (qe.Distance.Euclid, cpb.Euclid),
    m.Distance.DOT: (qe.Distance.Dot, cpb.Dot),
    m.Distance.MANHATTAN: (qe.Distance.Manhattan, cpb.Manhattan),
}
SCHEMAS = {
    m.PayloadSchemaType.KEYWORD: qe.PayloadSchemaType.Keyword,
    m.PayloadSchemaType.INTEGER: qe.PayloadSchemaType.Integer,
    m.PayloadSchemaType.FLOAT: qe.PayloadSchemaType.Float,
    m.PayloadSchemaType.BOOL: qe.PayloadSchemaType.Bool,
    m.PayloadSchemaType.GEO: qe.PayloadSchemaType.Geo,
    m.PayloadSchemaType.DATETIME: qe.PayloadSchemaType.Datetime,
    m.PayloadSchemaType.TEXT: qe.PayloadSchemaType.Text,
}


@dataclass(frozen=True)
class Dense:
    """A dense (or multi-dense, MaxSim) vector of a collection."""

    size: int
    distance: m.Distance = m.Distance.COSINE
    multi: bool = False


def vectors(n: int, dim: int, seed: int = 0) -> list[list[float]]:
    """`n` deterministic random vectors of `dim` float32 numbers."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, dim)).astype(np.float32).tolist()


def sparse(n: int, seed: int = 0, width: int = 40, nnz: int = 6) -> list[m.SparseVector]:
    """`n` deterministic random sparse vectors with `nnz` non-zero entries."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        indices = sorted(rng.choice(width, size=nnz, replace=False).tolist())
        values = rng.uniform(0.1, 1.0, size=nnz).astype(np.float32).tolist()
        out.append(m.SparseVector(indices=indices, values=values))
    return out


def _edge_vector(vector):
    """A local-mode vector (list, sparse model, named dict) as an engine vector."""
    if isinstance(vector, dict):
        return {name: _edge_vector(v) for name, v in vector.items()}
    if isinstance(vector, m.SparseVector):
        return qe.SparseVector(list(vector.indices), list(vector.values))
    return vector


class Twins:
    """The same collections in a real Catalog (embedded) and in local mode."""

    def __init__(self, data_dir):
        self.catalog = Catalog(data_dir)
        self.local = QdrantClient(":memory:")

    def close(self):
        """Release both sides."""
        self.catalog.close()
        self.local.close()

    def create(self, name, dense=None, sparse_names=()):
        """Create collection `name`: one unnamed `Dense`, or a dict of named ones."""
        request = cpb.CreateCollection(collection_name=name)
        edge_dense = None
        local_dense = None
        if isinstance(dense, Dense):
            edge_dense = self._edge_params(dense)
            local_dense = self._local_params(dense)
            request.vectors_config.params.CopyFrom(self._grpc_params(dense))
        elif dense:
            edge_dense = {k: self._edge_params(v) for k, v in dense.items()}
            local_dense = {k: self._local_params(v) for k, v in dense.items()}
            for k, v in dense.items():
                request.vectors_config.params_map.map[k].CopyFrom(self._grpc_params(v))
        edge_sparse = {k: qe.EdgeSparseVectorParams() for k in sparse_names} or None
        for k in sparse_names:
            request.sparse_vectors_config.map[k].SetInParent()
        config = qe.EdgeConfig(vectors=edge_dense, sparse_vectors=edge_sparse)
        self.catalog.create(request, config)
        self.local.create_collection(
            name,
            vectors_config=local_dense or {},
            sparse_vectors_config={k: m.SparseVectorParams() for k in sparse_names} or None,
        )

    @staticmethod
    def _edge_params(d):
        multi = qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim) if d.multi else None
        return qe.EdgeVectorParams(
            size=d.size, distance=DISTANCES[d.distance][0], multivector_config=multi
        )

    @staticmethod
    def _local_params(d):
        multi = m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM) if d.multi else None
        return m.VectorParams(size=d.size, distance=d.distance, multivector_config=multi)

    @staticmethod
    def _grpc_params(d):
        params = cpb.VectorParams(size=d.size, distance=DISTANCES[d.distance][1])
        if d.multi:
            params.multivector_config.comparator = cpb.MaxSim
        return params

    def upsert(self, name, points):
        """Write the same `models.PointStruct`s on both sides."""
        self.local.upsert(name, points)
        edge_points = [qe.Point(p.id, _edge_vector(p.vector), p.payload) for p in points]
        self.catalog.get(name).shard.update(qe.UpdateOperation.upsert_points(edge_points))

    def index(self, name, field, schema):
        """Create a payload index on both sides (local mode only warns that it is a no-op)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.local.create_payload_index(name, field, schema)
        op = qe.UpdateOperation.create_field_index(field, SCHEMAS[schema])
        self.catalog.get(name).shard.update(op)

    def call(self, method, request):
        """Run the embedded handler of `/qdrant.Points/<method>`."""
        return HANDLERS[f"/qdrant.Points/{method}"](self.catalog, request)


# --------------------------------------------------------------------- comparisons


def rest_points(grpc_points):
    """Protobuf `ScoredPoint`s as local-mode models, for comparison."""
    return [GrpcToRest.convert_scored_point(p) for p in grpc_points]


def assert_same_hits(embedded, local, *, payload=False, vectors=False, tol=1e-4):
    """Same ids in the same order and scores within `tol`.

    Points with equal scores may come in any order, and the last run of equal scores may
    be cut by the limit at a different point of the tie, so only its size is compared.
    """
    assert len(embedded) == len(local), (_brief(embedded), _brief(local))
    for e, want in zip(embedded, local, strict=True):
        assert abs(e.score - want.score) <= tol, (_brief(embedded), _brief(local))
    groups = list(zip(_tie_groups(embedded, tol), _tie_groups(local, tol), strict=True))
    for group_e, group_l in groups[:-1]:
        assert sorted(map(str, group_e)) == sorted(map(str, group_l)), (
            _brief(embedded),
            _brief(local),
        )
    by_id = {str(p.id): p for p in local}
    for e in embedded:
        want = by_id.get(str(e.id))
        if want is None:  # a member of a tie cut by the limit
            continue
        if payload:
            assert (e.payload or {}) == (want.payload or {})
        if vectors:
            assert_same_vectors(e.vector, want.vector)


def assert_same_vectors(got, want, tol=1e-4):
    """Two vector structures (list, list of lists, sparse, named dict) are equal within tol."""
    if isinstance(want, dict):
        assert isinstance(got, dict)
        assert got.keys() == want.keys()
        for key in want:
            assert_same_vectors(got[key], want[key], tol)
    elif isinstance(want, m.SparseVector):
        assert list(got.indices) == list(want.indices)
        assert np.allclose(got.values, want.values, atol=tol)
    else:
        assert np.allclose(np.asarray(got), np.asarray(want), atol=tol)


def _tie_groups(points, tol):
    """Runs of ids whose scores are equal within `tol`."""
    groups = []
    last = None
    for p in points:
        if last is None or abs(p.score - last) > tol:
            groups.append([])
        groups[-1].append(p.id)
        last = p.score
    return groups


def _brief(points):
    return [(p.id, round(p.score, 5)) for p in points]
