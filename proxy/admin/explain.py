"""Explain: a dry run of the routing filters for one (collection, caller, operation).

It builds the request a client would send, runs it through the same filters the
gateway runs (authenticate, identify, route, deprecation) and reports the partition
it reaches or the refusal it gets, word for word. The vector sent is a placeholder:
Explain says where a request goes, not whether its vector fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qdrant_client.grpc import points_pb2 as ppb

from proxy.admin.generated import admin_pb2
from proxy.chain import Filter
from proxy.envelope import Envelope
from proxy.errors import InvalidArgument, VecgateError
from proxy.frontend.ops import OPS


def _point(point: Any) -> None:
    point.id.num = 1
    point.vectors.vector.dense.data.append(0.0)


def _search(name: str) -> Any:
    request = ppb.QueryPoints(collection_name=name, limit=10)
    request.query.nearest.dense.data.append(0.0)
    return request


def _recommend(name: str) -> Any:
    request = ppb.QueryPoints(collection_name=name, limit=10)
    request.query.recommend.positive.add().id.num = 1
    return request


def _upsert(name: str) -> Any:
    request = ppb.UpsertPoints(collection_name=name)
    _point(request.points.add())
    return request


def _update_vectors(name: str) -> Any:
    request = ppb.UpdatePointVectors(collection_name=name)
    _point(request.points.add())
    return request


def _delete(name: str) -> Any:
    request = ppb.DeletePoints(collection_name=name)
    request.points.points.ids.add().num = 1
    return request


#: operation -> (Qdrant RPC, request builder)
OPERATIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "search": ("/qdrant.Points/Query", _search),
    "query": ("/qdrant.Points/Query", _search),
    "recommend": ("/qdrant.Points/Query", _recommend),
    "upsert": ("/qdrant.Points/Upsert", _upsert),
    "update_vectors": ("/qdrant.Points/UpdateVectors", _update_vectors),
    "get": ("/qdrant.Points/Get", lambda n: ppb.GetPoints(collection_name=n)),
    "scroll": ("/qdrant.Points/Scroll", lambda n: ppb.ScrollPoints(collection_name=n)),
    "count": ("/qdrant.Points/Count", lambda n: ppb.CountPoints(collection_name=n)),
    "delete_points": ("/qdrant.Points/Delete", _delete),
}


def explain(filters: Sequence[Filter], request: admin_pb2.ExplainRequest) -> Any:
    """Run the routing filters on the request described and report what happens."""
    operation = request.operation or "search"
    if operation not in OPERATIONS:
        raise InvalidArgument(
            f"operation {operation!r} cannot be explained; use one of {', '.join(OPERATIONS)}"
        )
    method, build = OPERATIONS[operation]
    metadata: dict[str, str] = {}
    caller = request.WhichOneof("caller")
    if caller == "identity":
        metadata["x-embedding-model"] = request.identity
    elif caller == "api_key":
        metadata["api-key"] = request.api_key
    op = OPS[method]
    env = Envelope(op, build(request.collection), metadata, collection=request.collection)
    reply = admin_pb2.ExplainReply(operation=op.label)
    try:
        for step in filters:
            step.on_request(env)
    except VecgateError as error:
        reply.allowed = False
        reply.status = error.code.name
        reply.message = error.message
        reply.reason = error.reason
    else:
        reply.allowed = True
        reply.status = "OK"
    claimed = env.claim.general or next(iter(env.claim.per_name.values()), None)
    reply.identity = str(claimed) if claimed else ""
    reply.identity_source = env.claim.source
    if env.logical is not None:
        reply.collection = env.logical.name
    if reply.allowed and env.partition is not None:
        reply.partition = env.partition.physical
        reply.version = env.partition.label()
    reply.warnings.extend(env.warnings)
    return reply
