"""Qdrant filters as Milvus boolean expressions over the ``payload`` JSON field.

Every condition becomes an expression that is true or false, never null: a Milvus
comparison on a missing JSON key is null, and ``not null`` is null again, whereas in
Qdrant ``must_not`` matches a point that lacks the key. So each field condition is
guarded: ``(exists payload["k"] and <comparison>)``.

Translated faithfully: must / should / must_not and nested filters, match value
(keyword, integer, bool; a value inside an array matches, as in Qdrant), match any,
range (numbers), has_id, has_vector. Everything else answers UNIMPLEMENTED naming
the construct: Milvus JSON expressions cannot say it exactly (an explicit null is
indistinguishable from a missing key; an empty array from a non-empty one; "some
array element outside a set"; per-element nested matching; text and geo matching).

Known difference, documented in docs/semantics.md: a range on a key whose value is
an array matches no point on Milvus (Qdrant matches when any element is in range).
"""

from __future__ import annotations

import json
from typing import Any

from qdrant_client.grpc import qdrant_common_pb2 as common

from adapters.milvus.ids import PK, pk_list, pks_of
from adapters.milvus.schema import PAYLOAD, CollectionSpec
from proxy.errors import InvalidArgument, Unimplemented

TRUE = f'{PK} != ""'
_BACKEND = "on the Milvus backend"


def to_expression(flt: common.Filter | None, spec: CollectionSpec) -> str:
    """The Milvus expression of a Qdrant filter ("" for none)."""
    if flt is None:
        return ""
    return _filter(flt, spec) or ""


def combine(*expressions: str) -> str:
    """AND of the non-empty expressions."""
    parts = [f"({e})" for e in expressions if e]
    return " and ".join(parts)


def _filter(flt: common.Filter, spec: CollectionSpec) -> str | None:
    if flt.HasField("min_should"):
        raise Unimplemented(f"filter `min_should` is not supported {_BACKEND}")
    parts: list[str] = [_condition(c, spec) for c in flt.must]
    if flt.should:
        parts.append(" or ".join(f"({_condition(c, spec)})" for c in flt.should))
    parts += [f"not ({_condition(c, spec)})" for c in flt.must_not]
    if not parts:
        return None
    return " and ".join(f"({p})" for p in parts)


def _condition(condition: common.Condition, spec: CollectionSpec) -> str:
    kind = condition.WhichOneof("condition_one_of")
    if kind == "field":
        return _field(condition.field)
    if kind == "has_id":
        pks = pks_of(condition.has_id.has_id)
        return f"{PK} in {pk_list(pks)}" if pks else f"not ({TRUE})"
    if kind == "filter":
        return _filter(condition.filter, spec) or TRUE
    if kind == "has_vector":
        # Every point stores every vector of its collection (Milvus fields are required).
        known = condition.has_vector.has_vector in spec.vectors
        return TRUE if known else f"not ({TRUE})"
    if kind == "is_empty":
        raise Unimplemented(
            f"filter condition `is_empty` is not supported {_BACKEND}: Milvus cannot tell "
            "an empty array from a non-empty one inside JSON"
        )
    if kind == "is_null":
        raise Unimplemented(
            f"filter condition `is_null` is not supported {_BACKEND}: Milvus cannot tell "
            "a null value from a missing key inside JSON"
        )
    if kind == "nested":
        raise Unimplemented(f"filter condition `nested` is not supported {_BACKEND}")
    raise Unimplemented(f"filter condition `{kind}` is not supported {_BACKEND}")


def path(key: str) -> str:
    """The Milvus JSON path of a Qdrant payload key (``a.b`` → ``payload["a"]["b"]``)."""
    if not key:
        raise InvalidArgument("a filter condition has an empty `key`")
    if "[" in key or "]" in key:
        raise Unimplemented(
            f"payload key {key!r}: array paths (`[]`, `[n]`) are not supported {_BACKEND}"
        )
    return PAYLOAD + "".join(f"[{json.dumps(part)}]" for part in key.split("."))


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _field(field: common.FieldCondition) -> str:
    p = path(field.key)
    checks: list[str] = []
    if field.HasField("match"):
        checks.append(_match(p, field.match, field.key))
    if field.HasField("range"):
        checks.append(_range(p, field.range))
    for name in ("geo_bounding_box", "geo_radius", "geo_polygon", "values_count", "datetime_range"):
        if field.HasField(name):
            raise Unimplemented(f"filter condition `{name}` is not supported {_BACKEND}")
    for name in ("is_empty", "is_null"):
        if field.HasField(name):  # type: ignore[arg-type]
            raise Unimplemented(f"field condition `{name}` is not supported {_BACKEND}")
    if not checks:
        raise InvalidArgument(
            f"Wrong input: the condition on {field.key!r} states nothing to match"
        )
    return f"exists {p} and " + " and ".join(f"({c})" for c in checks)


def _match(p: str, match: common.Match, key: str) -> str:
    kind = match.WhichOneof("match_value")
    if kind in ("keyword", "integer", "boolean"):
        value = _literal(getattr(match, kind))
        return f"{p} == {value} or json_contains({p}, {value})"
    if kind in ("keywords", "integers"):
        values = list(match.keywords.strings if kind == "keywords" else match.integers.integers)
        if not values:
            return f"not ({TRUE})"
        listed = "[" + ", ".join(_literal(v) for v in values) + "]"
        equal = " or ".join(f"{p} == {_literal(v)}" for v in values)
        return f"{equal} or json_contains_any({p}, {listed})"
    raise Unimplemented(
        f"match `{kind}` on {key!r} is not supported {_BACKEND}"
        + (
            ": Milvus cannot say that some element of an array lies outside a set"
            if kind in ("except_keywords", "except_integers")
            else ""
        )
    )


def _range(p: str, rng: common.Range) -> str:
    parts = []
    for name, op in (("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
        if rng.HasField(name):  # type: ignore[arg-type]
            parts.append(f"{p} {op} {_literal(getattr(rng, name))}")
    if not parts:
        return TRUE
    return " and ".join(parts)
