"""The admin service's gRPC handlers, built from its descriptor with lenient parsing.

The generated `add_AdminServicer_to_server` lets gRPC parse requests, which answers
UNKNOWN for bytes that are not the message. These handlers parse them with
`proxy.frontend.decoding.lenient` and refuse such bytes with INVALID_ARGUMENT, as the
Qdrant services do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message_factory import GetMessageClass

from proxy.admin.generated import admin_pb2
from proxy.frontend.decoding import Undecodable, lenient

SERVICE = admin_pb2.DESCRIPTOR.services_by_name["Admin"]


def admin_handler(servicer: Any) -> grpc.GenericRpcHandler[Any, Any]:
    """A generic handler serving every Admin RPC of `servicer`."""
    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in SERVICE.methods:
        request_type = GetMessageClass(method.input_type)
        response_type = GetMessageClass(method.output_type)
        implementation = getattr(servicer, method.name)
        if method.server_streaming:
            methods[method.name] = grpc.unary_stream_rpc_method_handler(
                _streaming(implementation),
                request_deserializer=lenient(request_type),
                response_serializer=response_type.SerializeToString,
            )
        else:
            methods[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(implementation),
                request_deserializer=lenient(request_type),
                response_serializer=response_type.SerializeToString,
            )
    return grpc.method_handlers_generic_handler(SERVICE.full_name, methods)


def _unary(implementation: Any) -> Any:
    async def handle(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, Undecodable):
            refusal = request.refusal()
            await context.abort(refusal.code, refusal.message)
        return await implementation(request, context)

    return handle


def _streaming(implementation: Any) -> Any:
    async def handle(
        request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        if isinstance(request, Undecodable):
            refusal = request.refusal()
            await context.abort(refusal.code, refusal.message)
        async for reply in implementation(request, context):
            yield reply

    return handle
