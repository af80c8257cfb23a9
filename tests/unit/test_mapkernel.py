"""The C map kernel (`proxy/_mapkernel.c`) against numpy, and the layouts it declines.

A query vector goes in as the `DenseVector` bytes a client sent and comes out as the
mapped vector's `DenseVector` bytes; protobuf's own parser reads both sides here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client.grpc import points_pb2 as ppb

from proxy import _mapkernel
from proxy.bridge.fit import LinearMap, int8_form, int8_weights
from proxy.wire import varint

RNG = np.random.default_rng(5)


def _raw(values: np.ndarray) -> bytes:
    return ppb.DenseVector(data=values.tolist()).SerializeToString()


def _parsed(raw: bytes | None) -> np.ndarray:
    assert raw is not None
    message = ppb.DenseVector()
    message.ParseFromString(raw)
    return np.array(message.data, dtype=np.float32)


# Dimensions that are not multiples of the 4-row blocks or of a vector register's 8 floats,
# and widths of one, several and a part of the int8 kernel's 128-column blocks.
SHAPES = [(384, 384), (768, 384), (7, 5), (1, 33), (130, 3), (5, 1024), (3, 530)]


@pytest.mark.parametrize(("d_in", "d_out"), SHAPES)
def test_dense_float32_is_numpys_product(d_in: int, d_out: int) -> None:
    x = RNG.standard_normal(d_in).astype(np.float32)
    weights = (RNG.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    bias = RNG.standard_normal(d_out).astype(np.float32)
    got = _parsed(_mapkernel.dense(weights, d_in, d_out, bias).apply(_raw(x)))
    np.testing.assert_allclose(got, x @ weights + bias, rtol=1e-5, atol=1e-5)
    unbiased = _parsed(_mapkernel.dense(weights, d_in, d_out, None).apply(_raw(x)))
    np.testing.assert_allclose(unbiased, x @ weights, rtol=1e-5, atol=1e-5)


I8_KERNELS = [
    pytest.param(True, id="portable"),
    pytest.param(
        False,
        id="avx512_vnni",
        marks=pytest.mark.skipif(
            _mapkernel.I8_KERNEL != "avx512_vnni", reason="no AVX-512 VNNI on this CPU"
        ),
    ),
]


def _int8(d_in: int, d_out: int) -> LinearMap:
    raw = (RNG.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    return int8_weights(LinearMap("procrustes", raw, np.zeros(d_out, np.float32)))


@pytest.mark.parametrize("portable", I8_KERNELS)
@pytest.mark.parametrize(("d_in", "d_out"), SHAPES)
def test_dense_int8_is_the_quantised_maps_product(d_in: int, d_out: int, portable: bool) -> None:
    linear = _int8(d_in, d_out)
    form = int8_form(linear.weights)
    assert form is not None
    x = RNG.standard_normal(d_in).astype(np.float32)
    bias = RNG.standard_normal(d_out).astype(np.float32)
    args = (form.blocks, form.scales, form.sums, d_in, d_out, bias, portable)
    got = _parsed(_mapkernel.dense_i8(*args).apply(_raw(x)))
    expected = x.astype(np.float64) @ linear.weights.astype(np.float64) + bias
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("portable", I8_KERNELS)
def test_dense_int8_keeps_24_bits_of_the_query(portable: bool) -> None:
    """The VNNI kernel takes the query as 24-bit fixed point (three bytes): each value's
    error is at most 2^-23 of the largest one's magnitude; two bytes would make it 2^-15."""
    d = 64
    linear = int8_weights(LinearMap("procrustes", np.eye(d, dtype=np.float32), np.zeros(d)))
    form = int8_form(linear.weights)
    assert form is not None
    x = RNG.standard_normal(d).astype(np.float32) * np.float32(1 + 2**-20)
    args = (form.blocks, form.scales, form.sums, d, d, None, portable)
    got = _parsed(_mapkernel.dense_i8(*args).apply(_raw(x)))
    expected = x.astype(np.float64) * np.diag(linear.weights).astype(np.float64)
    assert np.abs(got - expected).max() <= np.abs(x).max() * 2.0**-22


@pytest.mark.skipif(_mapkernel.I8_KERNEL != "avx512_vnni", reason="no AVX-512 VNNI on this CPU")
@pytest.mark.parametrize(("d_in", "d_out"), SHAPES)
def test_vnni_int8_is_the_exact_fixed_point_product(d_in: int, d_out: int) -> None:
    """Bit for bit what the fixed point defines: each value x * 2^shift rounded to nearest
    even (the shift puts the largest |x| just under 2^23), the integer products summed
    exactly, then scaled back: the vectorised conversion and its partial last step too."""
    linear = _int8(d_in, d_out)
    form = int8_form(linear.weights)
    assert form is not None
    x = RNG.standard_normal(d_in).astype(np.float32)
    x[-1] = 4 * np.abs(x).max()  # the largest value last: the partial step sets the shift
    args = (form.blocks, form.scales, form.sums, d_in, d_out, None)
    got = _parsed(_mapkernel.dense_i8(*args).apply(_raw(x)))
    shift = 23 - int(np.frexp(np.abs(x).max())[1])
    fixed = np.clip(np.rint(x.astype(np.float64) * 2.0**shift), -(2**23 - 1), 2**23 - 1)
    steps = np.rint(linear.weights / form.scales).astype(np.int64)
    total = fixed.astype(np.int64) @ steps
    expected = (total.astype(np.float64) * form.scales.astype(np.float64) * 2.0**-shift).astype(
        np.float32
    )
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("portable", I8_KERNELS)
@pytest.mark.parametrize("size", [1e-30, 1e-39, 0.0, 1e30])
def test_dense_int8_maps_queries_of_any_magnitude(size: float, portable: bool) -> None:
    """The fixed point scales the query to its largest value: tiny (down to subnormal),
    zero and huge queries come out as the map's product, never NaN or infinity."""
    linear = _int8(40, 24)
    form = int8_form(linear.weights)
    assert form is not None
    x = (RNG.uniform(-1, 1, 40) * size).astype(np.float32)
    args = (form.blocks, form.scales, form.sums, 40, 24, None, portable)
    got = _parsed(_mapkernel.dense_i8(*args).apply(_raw(x)))
    expected = x.astype(np.float64) @ linear.weights.astype(np.float64)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=size * 1e-5)


def test_int8_weights_round_each_column_to_255_steps_of_its_largest() -> None:
    raw = RNG.standard_normal((50, 7)).astype(np.float32)
    raw[:, 3] = 0.0  # an all-zero column stays zero
    linear = int8_weights(LinearMap("ridge", raw, np.zeros(7, np.float32)))
    form = int8_form(linear.weights)
    assert form is not None
    assert int8_form(raw) is None  # a float32 map is not mistaken for an int8 one
    steps = np.rint(linear.weights / form.scales)
    assert np.abs(steps).max(axis=0).tolist() == [127, 127, 127, 0, 127, 127, 127]
    assert (np.abs(linear.weights - raw) <= form.scales / 2 * (1 + 1e-6)).all()
    assert form.sums.tolist() == steps.sum(axis=0).astype(int).tolist()
    assert form.blocks.shape == (1, 13, 128, 4)  # 50 rows in 13 quads, 7 columns in one block


def test_residual_is_x_plus_x_u_v_plus_b() -> None:
    d, rank = 384, 64
    x = RNG.standard_normal(d).astype(np.float32)
    left = (RNG.standard_normal((d, rank)) / 20).astype(np.float32)
    right = (RNG.standard_normal((rank, d)) / 20).astype(np.float32)
    bias = RNG.standard_normal(d).astype(np.float32)
    got = _parsed(_mapkernel.residual(left, right, rank, bias).apply(_raw(x)))
    np.testing.assert_allclose(got, x + (x @ left) @ right + bias, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "linear",
    [
        LinearMap("procrustes", RNG.standard_normal((24, 12)).astype(np.float32), np.ones(12)),
        int8_weights(
            LinearMap("procrustes", RNG.standard_normal((24, 12)).astype(np.float32), np.ones(12))
        ),
    ],
    ids=["float32", "int8"],
)
def test_a_maps_wire_form_answers_as_its_numpy_form(linear: LinearMap) -> None:
    """`LinearMap.apply_wire` (the served path) and `apply` (training, evaluation, the
    path for several vectors) give the same vector, whichever form the weights take."""
    x = RNG.standard_normal((1, 24)).astype(np.float32)
    wire = _parsed(linear.apply_wire(_raw(x[0])))
    np.testing.assert_allclose(wire, linear.apply(x)[0], rtol=1e-5, atol=1e-5)


def test_a_low_rank_maps_wire_form_answers_as_its_numpy_form() -> None:
    rng = np.random.default_rng(9)
    d = 32
    correction = (rng.standard_normal((d, 4)) @ rng.standard_normal((4, d)) / 10).astype(np.float32)
    linear = LinearMap("ridge_identity", np.eye(d, dtype=np.float32) + correction, np.zeros(d), 4)
    x = rng.standard_normal((1, d)).astype(np.float32)
    wire = _parsed(linear.apply_wire(_raw(x[0])))
    np.testing.assert_allclose(wire, linear.apply(x)[0], rtol=1e-5, atol=1e-5)


def _unpacked(values: np.ndarray) -> bytes:
    """Field 1 as one fixed32 per value (valid protobuf, not the packed block)."""
    return b"".join(b"\x0d" + v.tobytes() for v in values.astype("<f4"))


def _packed(values: np.ndarray) -> bytes:
    raw = values.astype("<f4").tobytes()
    return b"\x0a" + varint(len(raw)) + raw


def test_a_query_that_is_not_finite_is_declined_by_the_int8_map() -> None:
    """The fixed-point query needs finite values: None (numpy maps it), not garbage."""
    form = int8_form(np.ones((8, 8), np.float32))
    assert form is not None
    for bad in (np.nan, np.inf):
        x = np.ones(8, np.float32)
        x[3] = bad
        for portable in (True, False):
            args = (form.blocks, form.scales, form.sums, 8, 8, None, portable)
            assert _mapkernel.dense_i8(*args).apply(_packed(x)) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        _unpacked(np.ones(8, np.float32)),
        _packed(np.ones(7, np.float32)),  # too short for the map
        _packed(np.ones(9, np.float32)),  # too long
        _packed(np.ones(4, np.float32)) + _packed(np.ones(4, np.float32)),  # split block
        _packed(np.ones(8, np.float32)) + b"\x10\x01",  # another field after it
        b"\x0a\x80",  # a varint that never ends
        _packed(np.ones(8, np.float32))[:-1],  # cut short
    ],
    ids=["empty", "unpacked", "short", "long", "split", "extra field", "bad varint", "cut"],
)
def test_other_layouts_are_declined(raw: bytes) -> None:
    """None (the caller maps the parsed vector in numpy), never a wrong vector."""
    weights = np.ones((8, 8), np.float32)
    assert _mapkernel.dense(weights, 8, 8, None).apply(raw) is None
    form = int8_form(weights)
    assert form is not None
    for portable in (True, False):
        args = (form.blocks, form.scales, form.sums, 8, 8, None, portable)
        assert _mapkernel.dense_i8(*args).apply(raw) is None
    assert _mapkernel.residual(weights, weights, 8, None).apply(raw) is None


def _int8_kernel(blocks: np.ndarray, scales: np.ndarray, sums: np.ndarray | None = None) -> Any:
    """A `dense_i8` kernel of an 8 x 8 map made of these buffers."""
    column_sums = np.ones(8, np.int32) if sums is None else sums
    return lambda: _mapkernel.dense_i8(blocks, scales, column_sums, 8, 8, None)


BLOCKS_8X8 = np.ones(1024, np.int8)  # one block of 2 quads x 128 columns x 4 bytes


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: _mapkernel.dense(np.ones((8, 3), np.float32), 8, 8, None), "weights"),
        (lambda: _mapkernel.dense(np.ones((8, 8), np.float32), 8, 8, np.ones(3)), "bias"),
        (lambda: _mapkernel.dense(np.ones((8, 8), np.float32), 0, 8, None), "positive"),
        (lambda: _mapkernel.dense(np.ones((8, 8), np.float64), 8, 8, None), "format 'd'"),
        (_int8_kernel(np.ones(256, np.float32), np.ones(8, np.float32)), "int8 blocks"),
        (_int8_kernel(np.ones(512, np.int8), np.ones(8, np.float32)), "int8 blocks"),
        (_int8_kernel(BLOCKS_8X8, np.ones(7, np.float32)), "scales"),
        (_int8_kernel(BLOCKS_8X8, np.ones(8, np.float32), np.ones(8, np.float32)), "sums"),
        (_int8_kernel(BLOCKS_8X8, np.ones(8, np.int32), np.ones(8, np.int32)), "scales"),
        (
            lambda: _mapkernel.residual(
                np.ones((8, 2), np.float32), np.ones((3, 8), np.float32), 2, None
            ),
            "right",
        ),
        (
            lambda: _mapkernel.residual(
                np.ones((8, 2), np.float32), np.ones((2, 8), np.float32), 0, None
            ),
            "rank",
        ),
    ],
    ids=[
        "weights size",
        "bias size",
        "zero dimension",
        "float64 weights",
        "int8 item type",
        "int8 blocks size",
        "int8 scales size",
        "float32 given as the int32 sums",
        "int32 given as the float32 scales",
        "factor sizes",
        "zero rank",
    ],
)
def test_wrong_maps_are_errors(make: Any, message: str) -> None:
    """A map's buffers are checked once, when its kernel is made: size and item type."""
    with pytest.raises(ValueError, match=message):
        make()


def test_a_kernel_holds_its_own_copy_of_the_map() -> None:
    """The map is copied into the kernel's memory: later changes to the arrays it was
    made from (or their release) do not reach it."""
    weights = np.eye(8, dtype=np.float32)
    kernel = _mapkernel.dense(weights, 8, 8, None)
    x = np.arange(8, dtype=np.float32)
    weights[:] = 0
    del weights
    assert (kernel.d_in, kernel.d_out) == (8, 8)
    np.testing.assert_array_equal(_parsed(kernel.apply(_packed(x))), x)
    with pytest.raises(TypeError, match="DenseVector's bytes"):
        kernel.apply(bytearray(_packed(x)))  # type: ignore[arg-type]
