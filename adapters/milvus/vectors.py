"""Vectors between Qdrant's messages and Milvus rows, and the payload/vector selectors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from qdrant_client.grpc import points_pb2 as ppb

from adapters.milvus.schema import CollectionSpec, VectorField
from proxy.errors import InvalidArgument, Unimplemented
from proxy.wire import packed_floats, packed_matrix

_BACKEND = "on the Milvus backend"


def dense(v: Any, where: str) -> np.ndarray:
    """A protobuf `Vector` or `VectorInput` holding a dense vector, as float32."""
    kind = v.WhichOneof("vector") if v.DESCRIPTOR.name == "Vector" else v.WhichOneof("variant")
    if kind == "dense":
        return packed_floats(v.dense).astype(np.float32, copy=False)
    if kind is None and v.DESCRIPTOR.name == "Vector" and len(v.data):
        if v.HasField("indices") or v.HasField("vectors_count"):
            raise Unimplemented(f"{where}: sparse and multi vectors are not supported {_BACKEND}")
        return np.asarray(v.data, dtype=np.float32)
    if kind in ("document", "image", "object"):
        raise Unimplemented("vecgate does not run inference; send vectors")
    raise Unimplemented(f"{where}: {kind or 'empty'} vectors are not supported {_BACKEND}")


def prepared(field: VectorField, vector: np.ndarray, where: str) -> np.ndarray:
    """Check the dimension; normalise for Cosine (Qdrant stores cosine vectors normalised)."""
    if vector.shape[0] != field.size:
        raise InvalidArgument(
            f"Wrong input: Vector dimension error: expected dim: {field.size}, got "
            f"{vector.shape[0]} ({where})"
        )
    if field.metric == "COSINE":
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            return vector / norm
    return vector


def point_vectors(spec: CollectionSpec, vectors: ppb.Vectors, where: str) -> dict[str, Any]:
    """A point's vectors as Milvus row fields; every vector of the collection is required."""
    kind = vectors.WhichOneof("vectors_options")
    if kind == "vector":
        given = {"": vectors.vector}
    elif kind == "vectors":
        given = dict(vectors.vectors.vectors)
    else:
        raise InvalidArgument(f"Wrong input: {where} has no vector")
    row: dict[str, Any] = {}
    for name, vector in given.items():
        field = spec.vector(name)
        row[field.field] = prepared(field, dense(vector, where), where)
    missing = [v.label for v in spec.vectors.values() if v.field not in row]
    if missing:
        raise InvalidArgument(
            f"Wrong input: {where} lacks vector(s) {', '.join(missing)}; on the Milvus backend "
            "every point must carry every vector of its collection"
        )
    return row


def _plain_dense(vectors: list[Any]) -> list[Any] | None:
    """The packed-float messages of these `Vector`s if all are plain dense, else None."""
    if all(v.HasField("dense") for v in vectors):
        return [v.dense for v in vectors]
    # The legacy layout: `data` alone (then the Vector serialises as a DenseVector would).
    if all(v.WhichOneof("vector") is None for v in vectors):
        return vectors
    return None


def vector_columns(spec: CollectionSpec, points: list[Any]) -> dict[str, np.ndarray] | None:
    """Every point's vectors as one (points, dim) float32 matrix per Milvus field, read in
    one numpy pass per field and normalised for Cosine as `prepared` does; None unless
    every point carries exactly the collection's vectors as plain dense vectors of the
    right size (then `point_vectors`, point by point, accepts or words the refusal)."""
    if not points:
        return None
    kinds = {p.vectors.WhichOneof("vectors_options") for p in points}
    given: dict[str, list[Any]] = {}
    if kinds == {"vector"} and set(spec.vectors) == {""}:
        given[""] = [p.vectors.vector for p in points]
    elif kinds == {"vectors"} and "" not in spec.vectors:
        names = set(spec.vectors)
        maps = [p.vectors.vectors.vectors for p in points]
        if any(set(m) != names for m in maps):
            return None
        given = {name: [m[name] for m in maps] for name in names}
    else:
        return None
    out: dict[str, np.ndarray] = {}
    for name, vectors in given.items():
        field = spec.vectors[name]
        messages = _plain_dense(vectors)
        matrix = None if messages is None else packed_matrix(messages, field.size)
        if matrix is None:
            return None
        if field.metric == "COSINE":
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = np.divide(matrix, norms, out=matrix.copy(), where=norms > 0)
        out[field.field] = matrix
    return out


def payload_selector(selector: ppb.WithPayloadSelector | None) -> tuple[bool, set[str], set[str]]:
    """(any payload, keys to include, keys to exclude); gRPC's unset means none."""
    if selector is None:
        return False, set(), set()
    kind = selector.WhichOneof("selector_options")
    if kind == "enable":
        return selector.enable, set(), set()
    if kind == "include":
        return True, set(selector.include.fields), set()
    if kind == "exclude":
        return True, set(), set(selector.exclude.fields)
    return False, set(), set()


def select_payload(payload: Mapping[str, Any], include: set[str], exclude: set[str]) -> Any:
    """The part of a payload a selector asks for (top-level and dotted keys)."""
    if include:
        out: dict[str, Any] = {}
        for key in include:
            _copy_path(payload, out, key.split("."))
        return out
    if exclude:
        out = dict(payload)
        for key in exclude:
            _drop_path(out, key.split("."))
        return out
    return payload


def _copy_path(source: Mapping[str, Any], target: dict[str, Any], parts: list[str]) -> None:
    head = parts[0]
    if head not in source:
        return
    if len(parts) == 1:
        target[head] = source[head]
    elif isinstance(source[head], Mapping):
        _copy_path(source[head], target.setdefault(head, {}), parts[1:])


def _drop_path(target: dict[str, Any], parts: list[str]) -> None:
    if len(parts) == 1:
        target.pop(parts[0], None)
    elif isinstance(target.get(parts[0]), Mapping):
        inner = dict(target[parts[0]])
        _drop_path(inner, parts[1:])
        target[parts[0]] = inner


def vector_selector(spec: CollectionSpec, selector: ppb.WithVectorsSelector | None) -> list[str]:
    """The Qdrant vector names to return."""
    if selector is None:
        return []
    kind = selector.WhichOneof("selector_options")
    if kind == "enable":
        return list(spec.vectors) if selector.enable else []
    if kind == "include":
        names = list(selector.include.names)
        for name in names:
            spec.vector(name)
        return names
    return []


def fill_vectors(
    spec: CollectionSpec, names: Iterable[str], row: Mapping[str, Any], out: ppb.VectorsOutput
) -> None:
    """Write the selected vectors of a Milvus row into a `VectorsOutput`."""
    names = list(names)
    if not names:
        return
    named = spec.config.vectors_config.WhichOneof("config") == "params_map"
    if not named:
        out.vector.dense.data.extend(row[spec.vectors[""].field])
        return
    for name in names:
        out.vectors.vectors[name].dense.data.extend(row[spec.vectors[name].field])
