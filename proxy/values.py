"""Payload values and point ids between Qdrant's protobuf messages and plain Python.

Hot path: called once per point on upsert and per hit on search, so it is written
as straight-line code over the `Value` oneof, without reflection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from qdrant_client.grpc import json_with_int_pb2 as jpb
from qdrant_client.grpc import qdrant_common_pb2 as cpb

from proxy.errors import InvalidArgument

PointKey = int | uuid.UUID


def value_to_python(value: jpb.Value) -> Any:
    """One protobuf `Value` as the JSON-like Python value it stands for."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "integer_value":
        return value.integer_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return payload_to_python(value.struct_value.fields)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    return None


#: `Value` kinds whose field holds the Python value itself.
_SCALARS = frozenset({"string_value", "integer_value", "double_value", "bool_value"})


def payload_to_python(fields: Mapping[str, jpb.Value]) -> dict[str, Any]:
    """A protobuf payload map as a Python dict (scalars inline: no call per value)."""
    return {
        key: getattr(item, kind)
        if (kind := item.WhichOneof("kind")) in _SCALARS
        else value_to_python(item)
        for key, item in fields.items()
    }


#: Exact Python types and the `Value` field that holds them (subclasses take the long way).
_FIELDS = {str: "string_value", int: "integer_value", float: "double_value", bool: "bool_value"}


def python_to_value(data: Any, out: jpb.Value) -> None:
    """Write a JSON-like Python value into `out` (a `Value` inside a message)."""
    field = _FIELDS.get(type(data))
    if field is not None:
        setattr(out, field, data)
    elif data is None:
        out.null_value = jpb.NULL_VALUE
    elif isinstance(data, bool):
        out.bool_value = data
    elif isinstance(data, int):
        out.integer_value = data
    elif isinstance(data, float):
        out.double_value = data
    elif isinstance(data, str):
        out.string_value = data
    elif isinstance(data, Mapping):
        python_to_payload(data, out.struct_value.fields)
    elif isinstance(data, list | tuple):
        values = out.list_value.values
        out.list_value.SetInParent()
        for item in data:
            python_to_value(item, values.add())
    else:
        raise InvalidArgument(f"payload value of type {type(data).__name__} is not JSON")


def python_to_payload(data: Mapping[str, Any], out: MutableMapping[str, jpb.Value]) -> None:
    """Fill a protobuf payload map from a Python dict (scalars inline: no call per value)."""
    fields = _FIELDS
    for key, item in data.items():
        field = fields.get(type(item))
        if field is not None:
            setattr(out[key], field, item)
        else:
            python_to_value(item, out[key])


def point_id_to_python(point_id: cpb.PointId) -> PointKey:
    """A protobuf `PointId` as an int or a UUID (Qdrant accepts any UUID spelling)."""
    kind = point_id.WhichOneof("point_id_options")
    if kind == "num":
        return point_id.num
    if kind == "uuid":
        try:
            return uuid.UUID(point_id.uuid)
        except ValueError:
            raise InvalidArgument(
                f"point id {point_id.uuid!r} is not a valid UUID; "
                "use an unsigned integer or a UUID such as "
                "'5c56c793-69f3-4fbf-87e6-c4bf54c28c26'"
            ) from None
    raise InvalidArgument("a point id is empty; set `num` or `uuid`")


def point_ids_to_python(point_ids: Iterable[cpb.PointId]) -> list[PointKey]:
    """Several protobuf point ids as Python ids."""
    return [point_id_to_python(point_id) for point_id in point_ids]


def python_to_point_id(key: int | uuid.UUID | str, out: cpb.PointId) -> None:
    """Write a Python id (as the engine returns it) into a protobuf `PointId`."""
    if isinstance(key, int):
        out.num = key
    else:
        out.uuid = str(key if isinstance(key, uuid.UUID) else uuid.UUID(key))
