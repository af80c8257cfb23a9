"""Tag: every written point carries its model and version; tags cannot be forged or removed.

- Upsert and the upserts of UpdateBatch: the tag keys are set on each point; a point
  that already carries them with other values is refused.
- UpdateVectors: rewritten into one UpdateBatch (update the vectors, then set the tags)
  so that a vector written under a version always carries that version's tags.
- SetPayload / OverwritePayload: forged tags refused; overwrite keeps the tags.
- DeletePayload of a tag key: refused. ClearPayload: rewritten into an overwrite that
  keeps only the tags (one backend operation, so no moment without tags).
"""

from __future__ import annotations

import re
from typing import Any

from qdrant_client.grpc import points_pb2 as ppb

from proxy.chain import RequestFilter
from proxy.config import TagConfig
from proxy.envelope import Envelope
from proxy.errors import InvalidArgument
from proxy.frontend.ops import OPS, Kind
from proxy.registry import Partition

_FIRST_KEY = re.compile(r"^[^.\[]+")
_UPDATE_BATCH = OPS["/qdrant.Points/UpdateBatch"]
_OVERWRITE = OPS["/qdrant.Points/OverwritePayload"]


class Tag(RequestFilter):
    """Writes the tag payload keys and guards them."""

    def __init__(self, tags: TagConfig, *, backend_writes_tags: bool = False) -> None:
        """`backend_writes_tags`: the backend writes an Upsert's tags from `packed.tags`."""
        self.backend_writes_tags = backend_writes_tags
        self.model_key = tags.model_key
        self.version_key = tags.version_key
        self.keys = (tags.model_key, tags.version_key)
        self._encoded_keys = frozenset(key.encode() for key in self.keys)
        self._fragments: dict[tuple[str, str], bytes] = {}

    def tag_values(self, partition: Partition) -> tuple[str, str]:
        """The model and version strings stored on the partition's points."""
        identities = set(partition.binding.values())
        if len(identities) == 1:
            identity = next(iter(identities))
            return identity.model, identity.version
        # Several models in one partition (named vectors): name=model pairs, sorted.
        pairs = sorted(partition.binding.items())
        return (
            ",".join(f"{n}={i.model}" for n, i in pairs),
            ",".join(f"{n}={i.version}" for n, i in pairs),
        )

    def on_request(self, env: Envelope) -> None:
        """Tag written points and guard payload operations."""
        partition = env.partition
        if env.op.kind is not Kind.WRITE or partition is None:
            return
        values = self.tag_values(partition)
        name, request = env.op.name, env.request
        if name == "Upsert":
            packed = env.packed
            if packed is not None and not self._encoded_keys & packed.keys:
                # No point carries a tag key (read from the wire). The backend writes
                # the entries on every point, or they are merged into each point here
                # (one C-level call per point).
                if self.backend_writes_tags:
                    packed.tags = dict(zip(self.keys, values, strict=True))
                    return
                fragment = self._fragment(values)
                for point in request.points:
                    point.MergeFromString(fragment)
            else:
                self._tag_points(request.points, values, "points")
        elif name in ("SetPayload", "OverwritePayload"):
            self._guard_set(request, values, overwrite=name == "OverwritePayload")
        elif name == "DeletePayload":
            self._guard_delete(request.keys)
        elif name == "ClearPayload":
            env.request = self._clear_to_overwrite(request, values)
            env.backend_op = _OVERWRITE
        elif name == "UpdateVectors":
            env.request = self._vectors_with_tags(request, values)
            env.backend_op = _UPDATE_BATCH
            env.extra["unwrap_batch"] = True
        elif name == "UpdateBatch":
            self._tag_batch(request, values)

    def _fragment(self, values: tuple[str, str]) -> bytes:
        """A serialised `PointStruct` holding only the two tag payload entries."""
        fragment = self._fragments.get(values)
        if fragment is None:
            point = ppb.PointStruct()
            for key, value in zip(self.keys, values, strict=True):
                point.payload[key].string_value = value
            fragment = self._fragments[values] = point.SerializeToString()
        return fragment

    def on_response(self, env: Envelope, response: Any) -> Any:
        """Turn the batch made from an UpdateVectors back into its own response."""
        if env.extra.get("unwrap_batch"):
            return ppb.PointsOperationResponse(result=response.result[0], time=response.time)
        return response

    def _set_tags(self, payload: Any, values: tuple[str, str], where: str) -> None:
        for key, value in zip(self.keys, values, strict=True):
            if key in payload:
                sent = payload[key]
                if sent.WhichOneof("kind") != "string_value" or sent.string_value != value:
                    raise InvalidArgument(
                        f"{where}: payload key {key!r} is written by vecgate and must be "
                        f"{value!r} for this model version; remove it from the payload",
                        reason="forged_tag",
                    )
            else:
                payload[key].string_value = value

    def _tag_points(self, points: Any, values: tuple[str, str], where: str) -> None:
        for i, point in enumerate(points):
            self._set_tags(point.payload, values, f"{where}[{i}]")

    def _guard_key(self, key: str) -> None:
        match = _FIRST_KEY.match(key)
        if match and match.group(0) in self.keys:
            raise InvalidArgument(
                f"payload key {key!r} is maintained by vecgate and cannot be set or "
                "changed through a nested key",
                reason="forged_tag",
            )

    def _guard_set(self, request: Any, values: tuple[str, str], *, overwrite: bool) -> None:
        if request.HasField("key"):  # nested path: refuse only if it descends into a tag
            self._guard_key(request.key)
        elif overwrite or any(key in request.payload for key in self.keys):
            self._set_tags(request.payload, values, "payload")

    def _guard_delete(self, keys: Any) -> None:
        for key in keys:
            match = _FIRST_KEY.match(key)
            if match and match.group(0) in self.keys:
                raise InvalidArgument(
                    f"payload key {key!r} is maintained by vecgate and cannot be deleted; "
                    "it records the embedding model version of the point",
                    reason="tag_delete",
                )

    def _clear_to_overwrite(self, request: Any, values: tuple[str, str]) -> Any:
        rewritten = ppb.SetPayloadPoints(
            collection_name=request.collection_name, points_selector=request.points
        )
        if request.HasField("wait"):
            rewritten.wait = request.wait
        if request.HasField("ordering"):
            rewritten.ordering.CopyFrom(request.ordering)
        if request.HasField("timeout"):
            rewritten.timeout = request.timeout
        self._set_tags(rewritten.payload, values, "payload")
        return rewritten

    def _tag_payload_selector(self, selector: Any, values: tuple[str, str]) -> Any:
        operation = ppb.PointsUpdateOperation()
        operation.set_payload.points_selector.CopyFrom(selector)
        self._set_tags(operation.set_payload.payload, values, "payload")
        return operation

    def _vectors_with_tags(self, request: Any, values: tuple[str, str]) -> Any:
        batch = ppb.UpdateBatchPoints(collection_name=request.collection_name)
        if request.HasField("wait"):
            batch.wait = request.wait
        if request.HasField("ordering"):
            batch.ordering.CopyFrom(request.ordering)
        update = batch.operations.add().update_vectors
        update.points.extend(request.points)
        if request.HasField("update_filter"):
            update.update_filter.CopyFrom(request.update_filter)
        selector = ppb.PointsSelector()
        selector.points.ids.extend(point.id for point in request.points)
        batch.operations.append(self._tag_payload_selector(selector, values))
        return batch

    def _tag_batch(self, request: Any, values: tuple[str, str]) -> None:
        operations = list(request.operations)
        rebuilt = []
        for i, operation in enumerate(operations):
            kind = operation.WhichOneof("operation")
            if kind == "upsert":
                self._tag_points(operation.upsert.points, values, f"operations[{i}].upsert.points")
            elif kind in ("set_payload", "overwrite_payload"):
                self._guard_set(
                    getattr(operation, kind), values, overwrite=kind == "overwrite_payload"
                )
            elif kind == "delete_payload":
                self._guard_delete(operation.delete_payload.keys)
            elif kind in ("clear_payload", "clear_payload_deprecated"):
                selector = (
                    operation.clear_payload.points
                    if kind == "clear_payload"
                    else operation.clear_payload_deprecated
                )
                replacement = ppb.PointsUpdateOperation()
                replacement.overwrite_payload.points_selector.CopyFrom(selector)
                self._set_tags(replacement.overwrite_payload.payload, values, "payload")
                rebuilt.append(replacement)
                continue
            rebuilt.append(operation)
            if kind == "update_vectors":
                selector = ppb.PointsSelector()
                selector.points.ids.extend(p.id for p in operation.update_vectors.points)
                rebuilt.append(self._tag_payload_selector(selector, values))
        del request.operations[:]
        request.operations.extend(rebuilt)
