"""Milvus's Search and Upsert RPCs on its generated gRPC stub: the adapter's hot paths.

pymilvus spends gateway CPU on layers the adapter does not need: ~0.4 ms per search
(parameter checks, request building for every search variant, retry and tracing
decorators, two channel interceptors, lazy result objects) and ~10 ms per 256-point
upsert (rows packed into columns value by value, with a type lookup per value)
(decision 43). Here a `SearchRequest` is built as pymilvus builds it for one dense
float query (same search parameters, consistency level and guarantee timestamp, the
latter from pymilvus's own `ts_utils`, so Session reads still see this process's
writes); everything but the vector and the timestamp is serialised once per search
shape (collection, field, metric, filter, top-k, output fields, level) and kept, so a
search only serialises its vector (decision 45). An
`UpsertRequest` is built straight from columns (vectors as one packed float
block per field, payloads as JSON by orjson as pymilvus encodes them); both go on a
channel of our own to the same server with the same `authorization` header. Answers
are decoded for the fields vecgate's layout has (VARCHAR key, JSON payload,
FLOAT_VECTOR fields), and only for the hits a reply uses. A failed status raises
pymilvus's `MilvusException`, as pymilvus would, so `errors.translate` and the
reload-after-restart retry see the same errors.
Every other call still goes through pymilvus.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import grpc
import numpy as np
import orjson
from pymilvus.client import ts_utils
from pymilvus.client.utils import check_status
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc, schema_pb2

from adapters.milvus.ids import PK as PK_FIELD
from adapters.milvus.schema import PAYLOAD as PAYLOAD_FIELD
from proxy.wire import varint

#: The channel options pymilvus sets on its own channel (no message size limits, keepalive).
_OPTIONS = [
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.keepalive_time_ms", 10000),
    ("grpc.keepalive_timeout_ms", 5000),
    ("grpc.keepalive_permit_without_calls", True),
]


_JSON = schema_pb2.DataType.JSON
_FLOAT_VECTOR = schema_pb2.DataType.FloatVector
_VARCHAR = schema_pb2.DataType.VarChar
_SEARCH = "/milvus.proto.milvus.MilvusService/Search"
#: Prebuilt request heads kept per search shape; past this many the cache starts afresh.
PLAN_CACHE = 512


class Hits:
    """The hits of a one-query search answer, best first, decoded only where read."""

    __slots__ = ("_fields", "keys", "scores")

    def __init__(self, results: schema_pb2.SearchResultData) -> None:
        ids = results.ids
        self.keys: list[str] = (
            list(ids.str_id.data) if ids.HasField("str_id") else [str(i) for i in ids.int_id.data]
        )
        self.scores: list[float] = list(results.scores)
        self._fields = {data.field_name: data for data in results.fields_data}
        for name, data in self._fields.items():
            if data.type not in (_JSON, _FLOAT_VECTOR, _VARCHAR):
                raise TypeError(f"output field `{name}` has a type vecgate does not read")

    def __len__(self) -> int:
        return len(self.keys)

    def value(self, name: str, i: int) -> Any:
        """Hit `i`'s value of output field `name` (JSON decoded; a vector as a list)."""
        data = self._fields.get(name)
        if data is None:
            return None
        if data.type == _JSON:
            cells = data.scalars.json_data.data
            return orjson.loads(cells[i]) if i < len(cells) else None
        if data.type == _FLOAT_VECTOR:
            dim = data.vectors.dim
            return list(data.vectors.float_vector.data[i * dim : (i + 1) * dim])
        return data.scalars.string_data.data[i]


def address_of(uri: str) -> str:
    """``host:port`` of an ``http://host:port`` URI (as pymilvus names the endpoint)."""
    return uri.split("://", 1)[-1].rstrip("/")


def _search_head(
    collection: str,
    *,
    field: str,
    metric: str,
    expression: str,
    limit: int,
    output_fields: tuple[str, ...],
    consistency: int,
) -> bytes:
    """Every field of the `SearchRequest` pymilvus sends for one dense float query,
    serialised, but the query itself and the guarantee timestamp."""
    params = {
        "topk": str(limit),
        "round_decimal": "-1",
        "ignore_growing": "False",
        "metric_type": metric,
        "anns_field": field,
        "params": json.dumps({"metric_type": metric}, separators=(",", ":")),
    }
    head = milvus_pb2.SearchRequest(
        collection_name=collection,
        dsl=expression,
        dsl_type=common_pb2.DslType.BoolExprV1,
        search_params=[common_pb2.KeyValuePair(key=k, value=v) for k, v in params.items()],
        output_fields=output_fields,
        nq=1,
        consistency_level=consistency,
        use_default_consistency=False,
    )
    serialised: bytes = head.SerializeToString()
    return serialised


def search_request(head: bytes, vector: np.ndarray, guarantee_timestamp: int) -> bytes:
    """A serialised `SearchRequest`: a prebuilt head and this query's vector and timestamp.

    Protobuf reads concatenated messages as one (their fields merged); the head holds
    neither of these two fields, so the result is the message pymilvus would build.
    """
    placeholder = common_pb2.PlaceholderGroup(
        placeholders=[
            common_pb2.PlaceholderValue(
                tag="$0",
                type=common_pb2.PlaceholderType.FloatVector,
                values=[np.ascontiguousarray(vector, dtype="<f4").tobytes()],
            )
        ]
    )
    tail = milvus_pb2.SearchRequest(
        placeholder_group=placeholder.SerializeToString(),
        guarantee_timestamp=guarantee_timestamp,
    )
    serialised: bytes = tail.SerializeToString()
    return head + serialised


def float_block(matrix: np.ndarray) -> schema_pb2.FloatArray:
    """A `FloatArray` of a float32 matrix's values, row after row, parsed from its bytes
    (one memory copy, where `data.extend` makes a Python float per value)."""
    raw = np.ascontiguousarray(matrix, dtype="<f4").tobytes()
    if not raw:
        return schema_pb2.FloatArray()
    return schema_pb2.FloatArray.FromString(b"\x0a" + varint(len(raw)) + raw)


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


class FastPath:
    """A gRPC channel of the adapter's own to one Milvus server, for Search and Upsert."""

    def __init__(self, uri: str, token: str) -> None:
        self.endpoint = address_of(uri)
        header = ("authorization", base64.b64encode(token.encode()).decode())
        self.metadata = (header,) if token else None
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None
        self._search: Any = None
        self._heads: dict[tuple[Any, ...], bytes] = {}

    def _connected(self) -> Any:
        if self._stub is None:  # made on first use: inside the event loop that serves
            self._channel = grpc.aio.insecure_channel(self.endpoint, options=_OPTIONS)
            self._stub = milvus_pb2_grpc.MilvusServiceStub(self._channel)
            # Search takes the request already serialised (`search_request`).
            self._search = self._channel.unary_unary(
                _SEARCH,
                request_serializer=None,
                response_deserializer=milvus_pb2.SearchResults.FromString,
            )
        return self._stub

    def _head(self, collection: str, consistency: str, **shape: Any) -> tuple[bytes, int]:
        """The prebuilt request head of a search shape, and its guarantee timestamp."""
        guarantee: dict[str, Any] = {"consistency_level": consistency}
        # pymilvus's rule: Strong 0 (the server's newest), Session this process's last
        # write to the collection, Bounded and Eventually fixed markers.
        ts_utils.construct_guarantee_ts(collection, guarantee, self.endpoint)
        level = guarantee["consistency_level"]
        key = (collection, level, *shape.values())
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= PLAN_CACHE:
                self._heads.clear()
            head = self._heads[key] = _search_head(collection, consistency=level, **shape)
        return head, guarantee["guarantee_timestamp"]

    async def search(
        self,
        collection: str,
        *,
        timeout: float,
        vector: np.ndarray,
        consistency: str,
        field: str,
        metric: str,
        expression: str,
        limit: int,
        output_fields: tuple[str, ...],
    ) -> Hits:
        """Run one search; its hits, or `MilvusException`."""
        head, guarantee = self._head(
            collection,
            consistency,
            field=field,
            metric=metric,
            expression=expression,
            limit=limit,
            output_fields=output_fields,
        )
        self._connected()
        request = search_request(head, vector, guarantee)
        response = await self._search(request, timeout=timeout, metadata=self.metadata)
        check_status(response.status)
        return Hits(response.results)

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
            self._channel = self._stub = self._search = None
