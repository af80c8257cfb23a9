"""Milvus's Search and Upsert RPCs on its generated gRPC stub: the adapter's hot paths.

pymilvus spends gateway CPU on layers the adapter does not need: ~0.4 ms per search
(parameter checks, request building for every search variant, retry and tracing
decorators, two channel interceptors, lazy result objects) and ~10 ms per 256-point
upsert (rows packed into columns value by value, with a type lookup per value)
(decision NN). Here a `SearchRequest` is built as pymilvus builds it for one dense
float query (same search parameters, consistency level and guarantee timestamp, the
latter from pymilvus's own `ts_utils`, so Session reads still see this process's
writes), and an `UpsertRequest` straight from columns (vectors as one packed float
block per field, payloads as JSON by orjson as pymilvus encodes them); both go on a
channel of our own to the same server with the same `authorization` header. Answers
are decoded for the fields vecgate's layout has (VARCHAR key, JSON payload,
FLOAT_VECTOR fields). A failed status raises pymilvus's `MilvusException`, as pymilvus
would, so `errors.translate` and the reload-after-restart retry see the same errors.
Every other call still goes through pymilvus.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import orjson
from pymilvus.client import ts_utils
from pymilvus.client.utils import check_status
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc, schema_pb2

from adapters.milvus.ids import PK as PK_FIELD
from adapters.milvus.schema import PAYLOAD as PAYLOAD_FIELD

#: The channel options pymilvus sets on its own channel (no message size limits, keepalive).
_OPTIONS = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 10000),
    ("grpc.keepalive_timeout_ms", 5000),
    ("grpc.keepalive_permit_without_calls", True),
]


@dataclass(slots=True)
class Hit:
    """One search hit: primary key, Milvus score (distance or similarity), output fields."""

    pk: str
    distance: float
    row: dict[str, Any]


def address_of(uri: str) -> str:
    """``host:port`` of an ``http://host:port`` URI (as pymilvus names the endpoint)."""
    return uri.split("://", 1)[-1].rstrip("/")


def search_request(
    collection: str,
    *,
    vector: np.ndarray,
    field: str,
    metric: str,
    expression: str,
    limit: int,
    output_fields: list[str],
    consistency: str,
    endpoint: str,
) -> milvus_pb2.SearchRequest:
    """The `SearchRequest` pymilvus sends for one dense float query vector."""
    placeholder = common_pb2.PlaceholderGroup(
        placeholders=[
            common_pb2.PlaceholderValue(
                tag="$0",
                type=common_pb2.PlaceholderType.FloatVector,
                values=[np.ascontiguousarray(vector, dtype="<f4").tobytes()],
            )
        ]
    )
    params = {
        "topk": str(limit),
        "round_decimal": "-1",
        "ignore_growing": "False",
        "metric_type": metric,
        "anns_field": field,
        "params": json.dumps({"metric_type": metric}, separators=(",", ":")),
    }
    guarantee: dict[str, Any] = {"consistency_level": consistency}
    ts_utils.construct_guarantee_ts(collection, guarantee, endpoint)
    return milvus_pb2.SearchRequest(
        collection_name=collection,
        dsl=expression,
        dsl_type=common_pb2.DslType.BoolExprV1,
        placeholder_group=placeholder.SerializeToString(),
        search_params=[common_pb2.KeyValuePair(key=k, value=v) for k, v in params.items()],
        output_fields=output_fields,
        nq=1,
        guarantee_timestamp=guarantee["guarantee_timestamp"],
        consistency_level=guarantee["consistency_level"],
        use_default_consistency=False,
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def float_block(matrix: np.ndarray) -> schema_pb2.FloatArray:
    """A `FloatArray` of a float32 matrix's values, row after row, parsed from its bytes
    (one memory copy, where `data.extend` makes a Python float per value)."""
    raw = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    if not raw:
        return schema_pb2.FloatArray()
    return schema_pb2.FloatArray.FromString(b"\x0a" + _varint(len(raw)) + raw)


def upsert_request(
    collection: str, pks: list[str], payloads: list[bytes], vectors: dict[str, np.ndarray]
) -> milvus_pb2.UpsertRequest:
    """An `UpsertRequest` of vecgate's layout from columns: keys, JSON payloads, and one
    (rows, dim) float32 matrix per vector field."""
    fields = [
        schema_pb2.FieldData(
            field_name=PK_FIELD,
            type=schema_pb2.DataType.VarChar,
            scalars=schema_pb2.ScalarField(string_data=schema_pb2.StringArray(data=pks)),
        ),
        schema_pb2.FieldData(
            field_name=PAYLOAD_FIELD,
            type=schema_pb2.DataType.JSON,
            scalars=schema_pb2.ScalarField(json_data=schema_pb2.JSONArray(data=payloads)),
        ),
    ]
    for name, matrix in vectors.items():
        fields.append(
            schema_pb2.FieldData(
                field_name=name,
                type=schema_pb2.DataType.FloatVector,
                vectors=schema_pb2.VectorField(
                    dim=matrix.shape[1], float_vector=float_block(matrix)
                ),
            )
        )
    return milvus_pb2.UpsertRequest(
        collection_name=collection, fields_data=fields, num_rows=len(pks)
    )


def json_of(payload: Any) -> bytes:
    """A payload as the JSON bytes pymilvus would send (orjson; stdlib json when nested
    deeper than orjson goes)."""
    try:
        return orjson.dumps(payload)
    except (TypeError, RecursionError) as exc:
        if isinstance(exc, RecursionError) or "Recursion limit" in str(exc):
            return json.dumps(payload).encode()
        raise


def _column(data: schema_pb2.FieldData, count: int) -> list[Any]:
    """The values of one output field, hit by hit."""
    if data.type == schema_pb2.DataType.JSON:
        cells = data.scalars.json_data.data
        return [orjson.loads(cells[i]) if i < len(cells) else None for i in range(count)]
    if data.type == schema_pb2.DataType.FloatVector:
        dim = data.vectors.dim
        flat = data.vectors.float_vector.data
        return [list(flat[i * dim : (i + 1) * dim]) for i in range(count)]
    if data.type == schema_pb2.DataType.VarChar:
        return list(data.scalars.string_data.data)[:count]
    raise TypeError(f"output field `{data.field_name}` has a type vecgate does not read")


def hits_of(results: schema_pb2.SearchResultData) -> list[Hit]:
    """The hits of a one-query search answer, best first."""
    ids = results.ids
    keys = list(ids.str_id.data) if ids.HasField("str_id") else [str(i) for i in ids.int_id.data]
    count = len(keys)
    columns = {data.field_name: _column(data, count) for data in results.fields_data}
    scores = results.scores
    return [
        Hit(pk=keys[i], distance=float(scores[i]), row={k: c[i] for k, c in columns.items()})
        for i in range(count)
    ]


class FastPath:
    """A gRPC channel of the adapter's own to one Milvus server, for Search and Upsert."""

    def __init__(self, uri: str, token: str) -> None:
        self.endpoint = address_of(uri)
        header = ("authorization", base64.b64encode(token.encode()).decode())
        self.metadata = (header,) if token else None
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    def _connected(self) -> Any:
        if self._stub is None:  # made on first use: inside the event loop that serves
            self._channel = grpc.aio.insecure_channel(self.endpoint, options=_OPTIONS)
            self._stub = milvus_pb2_grpc.MilvusServiceStub(self._channel)
        return self._stub

    async def search(self, collection: str, *, timeout: float, **search: Any) -> list[Hit]:
        """Run one search (`search_request` arguments); its hits, or `MilvusException`."""
        request = search_request(collection, endpoint=self.endpoint, **search)
        response = await self._connected().Search(request, timeout=timeout, metadata=self.metadata)
        check_status(response.status)
        return hits_of(response.results)

    async def upsert(
        self,
        collection: str,
        *,
        timeout: float,
        pks: list[str],
        payloads: list[bytes],
        vectors: dict[str, np.ndarray],
    ) -> None:
        """Insert or replace rows (`upsert_request` columns), or `MilvusException`."""
        request = upsert_request(collection, pks, payloads, vectors)
        response = await self._connected().Upsert(request, timeout=timeout, metadata=self.metadata)
        check_status(response.status)
        # What pymilvus records after a write: the timestamp Session reads wait for.
        ts_utils.update_collection_ts(collection, response.timestamp, self.endpoint, "")

    async def close(self) -> None:
        """Close the channel (if it was opened)."""
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = self._stub = None
