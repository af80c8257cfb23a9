"""Score-boosting formulas (`Query.formula`) as the engine's expression trees."""

from __future__ import annotations

import qdrant_edge as qe
from qdrant_client.grpc import points_pb2 as ppb

from adapters.embedded.filters import condition_to_edge
from proxy.errors import InvalidArgument, Unimplemented
from proxy.values import payload_to_python

_DECAY = {
    "exp_decay": qe.DecayKind.Exp,
    "gauss_decay": qe.DecayKind.Gauss,
    "lin_decay": qe.DecayKind.Lin,
}
_UNARY = {
    "neg": qe.Expression.Neg,
    "abs": qe.Expression.Abs,
    "sqrt": qe.Expression.Sqrt,
    "exp": qe.Expression.Exp,
    "log10": qe.Expression.Log10,
    "ln": qe.Expression.Ln,
    "acosh": qe.Expression.Acosh,
}
_VARIADIC = {
    "mult": qe.Expression.Mult,
    "sum": qe.Expression.Sum,
    "max": qe.Expression.Max,
    "min": qe.Expression.Min,
}


def formula(f: ppb.Formula) -> qe.Formula:
    """A score-boosting formula with its default variable values."""
    defaults = payload_to_python(f.defaults) if f.defaults else None
    return qe.Formula(expression(f.expression), defaults)


def expression(e: ppb.Expression) -> qe.Expression:
    """One formula expression node, recursively."""
    ex = qe.Expression
    kind = e.WhichOneof("variant")
    if kind == "constant":
        return ex.Constant(e.constant)
    if kind == "variable":
        return ex.Variable(e.variable)
    if kind == "condition":
        return ex.Condition(condition_to_edge(e.condition))
    if kind == "geo_distance":
        origin = qe.GeoPoint(lon=e.geo_distance.origin.lon, lat=e.geo_distance.origin.lat)
        return ex.GeoDistance(origin, e.geo_distance.to)
    if kind == "datetime":
        return ex.Datetime(e.datetime)
    if kind == "datetime_key":
        return ex.DatetimeKey(e.datetime_key)
    if kind in ("mult", "sum", "max", "min"):
        operands = [expression(x) for x in getattr(getattr(e, kind), kind)]
        return _VARIADIC[kind](operands)
    if kind == "div":
        default = e.div.by_zero_default if e.div.HasField("by_zero_default") else None
        return ex.Div(expression(e.div.left), expression(e.div.right), default)
    if kind == "pow":
        return ex.Pow(expression(e.pow.base), expression(e.pow.exponent))
    if kind in _UNARY:
        return _UNARY[kind](expression(getattr(e, kind)))
    if kind in _DECAY:
        return _decay(_DECAY[kind], getattr(e, kind))
    if kind is None:
        raise InvalidArgument("a formula expression is empty; set one of its variants")
    raise Unimplemented(f"formula expression `{kind}` is not supported by the embedded engine")


def _decay(kind: qe.DecayKind, d: ppb.DecayParamsExpression) -> qe.Expression:
    """A decay function of `x` around `target`."""
    return qe.Expression.Decay(
        kind,
        expression(d.x),
        target=expression(d.target) if d.HasField("target") else None,
        midpoint=d.midpoint if d.HasField("midpoint") else None,
        scale=d.scale if d.HasField("scale") else None,
    )
