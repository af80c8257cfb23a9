"""Vectors and vector/payload selectors between Qdrant's protobuf messages and the engine.

Inbound (`point_vector_to_edge`, `vector_to_edge`) reads the current oneof spellings
and the deprecated flat `data` (+ `indices` / `vectors_count`) that old clients send.
Outbound (`vectors_output`) writes the oneof spellings (`dense`, `sparse`,
`multi_dense`) that Qdrant 1.16+ servers send.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from proxy.errors import InvalidArgument, Unimplemented
from proxy.wire import packed_floats

NO_INFERENCE = "vecgate does not run inference; send vectors"

_INFERENCE_KINDS = frozenset({"document", "image", "object"})


def point_vector_to_edge(v: ppb.Vectors) -> qe.Vector:
    """A point's `Vectors` (one unnamed vector or a named map) as the engine's vector."""
    kind = v.WhichOneof("vectors_options")
    if kind == "vector":
        single = vector_to_edge(v.vector)
        if isinstance(single, qe.SparseVector):
            return {"": single}
        return single
    if kind == "vectors":
        return {name: vector_to_edge(vec) for name, vec in v.vectors.vectors.items()}
    raise InvalidArgument("a point's `vectors` is empty; send a vector or a map of named vectors")


def vector_to_edge(v: ppb.Vector) -> qe.NamedVector:
    """One protobuf `Vector` (dense, sparse or multi-dense) as an engine vector."""
    kind = v.WhichOneof("vector")
    if kind == "dense":
        dense: list[float] = packed_floats(v.dense).tolist()
        return dense
    if kind == "sparse":
        return sparse_vector(v.sparse.indices, v.sparse.values)
    if kind == "multi_dense":
        return [packed_floats(d).tolist() for d in v.multi_dense.vectors]
    if kind in _INFERENCE_KINDS:
        raise Unimplemented(NO_INFERENCE)
    if kind is None:
        return _legacy_vector(v)
    raise Unimplemented(f"vector kind `{kind}` is not supported by the embedded engine")


def _legacy_vector(v: ppb.Vector) -> qe.NamedVector:
    """The deprecated flat spelling: `data`, plus `indices` (sparse) or `vectors_count`."""
    data = list(v.data)
    if v.HasField("indices"):
        return sparse_vector(v.indices.data, data)
    if v.HasField("vectors_count"):
        return _split_multi(data, v.vectors_count)
    if not data:
        raise InvalidArgument("a vector is empty; set `dense`, `sparse` or `multi_dense`")
    return data


def sparse_vector(indices: Sequence[int], values: Sequence[float]) -> qe.SparseVector:
    """A sparse vector, checked as Qdrant checks it: one value per index, no repeats."""
    if len(indices) != len(values):
        raise InvalidArgument(
            f"a sparse vector has {len(indices)} indices but {len(values)} values; "
            "send one value per index"
        )
    index_list = list(indices)
    if len(set(index_list)) != len(index_list):
        raise InvalidArgument("a sparse vector repeats an index; indices must be unique")
    return qe.SparseVector(index_list, list(values))


def _split_multi(data: list[float], count: int) -> list[list[float]]:
    """Cut a flattened multi-vector into `count` equal rows."""
    if count == 0 or len(data) % count or len(data) < count:
        raise InvalidArgument(
            f"a flattened multi-vector of {len(data)} numbers cannot be split "
            f"into {count} non-empty vectors of equal size"
        )
    step = len(data) // count
    return [data[i : i + step] for i in range(0, len(data), step)]


def vectors_output(v: Any) -> ppb.VectorsOutput:
    """An engine vector (list, list of lists, sparse or a named map) as `VectorsOutput`."""
    out = ppb.VectorsOutput()
    fill_vectors_output(v, out)
    return out


def fill_vectors_output(v: Any, out: ppb.VectorsOutput) -> None:
    """Write an engine vector into `out`: a named map as `vectors`, else as `vector`."""
    if isinstance(v, Mapping):
        named = out.vectors.vectors
        out.vectors.SetInParent()
        for name, vec in v.items():
            _fill_vector_output(vec, named[name])
    else:
        _fill_vector_output(v, out.vector)


def _fill_vector_output(v: Any, out: ppb.VectorOutput) -> None:
    """Write one engine vector into a `VectorOutput`, using the oneof spellings."""
    if isinstance(v, qe.SparseVector):
        out.sparse.indices.extend(v.indices)
        out.sparse.values.extend(v.values)
        out.sparse.SetInParent()
    elif _is_multi(v):
        rows = out.multi_dense.vectors
        out.multi_dense.SetInParent()
        for row in v:
            rows.add().data.extend(row)
    else:
        out.dense.data.extend(v)
        out.dense.SetInParent()


def _is_multi(v: Sequence[Any]) -> bool:
    """Whether a list vector is a multi-vector (a list of rows)."""
    return bool(v) and isinstance(v[0], list | tuple)


def with_vectors_to_edge(sel: ppb.WithVectorsSelector | None) -> qe.WithVectorType:
    """Which vectors to return; unset means none (the gRPC default)."""
    if sel is None:
        return False
    kind = sel.WhichOneof("selector_options")
    if kind == "enable":
        return bool(sel.enable)
    if kind == "include":
        return list(sel.include.names)
    return False


def with_payload_to_edge(sel: ppb.WithPayloadSelector | None) -> qe.WithPayloadType:
    """Which payload to return; unset means none (the gRPC default)."""
    if sel is None:
        return False
    kind = sel.WhichOneof("selector_options")
    if kind == "enable":
        return bool(sel.enable)
    if kind == "include":
        return qe.PayloadSelector.Include(list(sel.include.fields))
    if kind == "exclude":
        return qe.PayloadSelector.Exclude(list(sel.exclude.fields))
    return False
