"""Qdrant point ids as one Milvus VARCHAR primary key, in Qdrant's order.

Qdrant ids are unsigned integers or UUIDs, mixed in one collection; Milvus has one
primary-key type per collection. Both become a string that sorts as Qdrant orders
ids (every integer before every UUID, integers by value, UUIDs by their 128 bits):
``0`` + the integer in 20 digits, or ``1`` + the UUID in canonical lowercase.
Scroll pages therefore follow Qdrant's order with a plain ``pk >= "..."`` filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from qdrant_client.grpc import qdrant_common_pb2 as common

from proxy.values import point_id_to_python

PK = "pk"
PK_MAX_LENGTH = 64
_INT = "0"
_UUID = "1"


def pk_of(point_id: common.PointId) -> str:
    """The primary key of a Qdrant `PointId` (INVALID_ARGUMENT for a bad UUID)."""
    key = point_id_to_python(point_id)
    if isinstance(key, int):
        return f"{_INT}{key:020d}"
    return f"{_UUID}{key}"


def pks_of(point_ids: Iterable[common.PointId]) -> list[str]:
    """Primary keys of several ids, in order."""
    return [pk_of(point_id) for point_id in point_ids]


def write_point_id(pk: str, out: common.PointId) -> None:
    """Write a primary key back as the Qdrant `PointId` it came from."""
    if pk[0] == _INT:
        out.num = int(pk[1:])
    else:
        out.uuid = pk[1:]


def pk_list(pks: Iterable[str]) -> str:
    """A Milvus list literal of primary keys: ``["0…1", "1…"]``."""
    return "[" + ", ".join(json.dumps(pk) for pk in pks) + "]"
