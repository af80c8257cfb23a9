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
from proxy.bridge.fit import LinearMap, bfloat16_pairs, bfloat16_weights
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
# and widths that take every column block of the AVX-512 kernel (384, 128, 16, a tail).
SHAPES = [(384, 384), (768, 384), (7, 5), (1, 33), (130, 3), (5, 1024), (3, 530)]
#: Both bfloat16 loops; the AVX-512 one only where this CPU has it.
KERNELS = [
    pytest.param(True, id="portable"),
    pytest.param(
        False,
        id="avx512_bf16",
        marks=pytest.mark.skipif(
            _mapkernel.BF16_KERNEL != "avx512_bf16", reason="no AVX-512 bfloat16 on this CPU"
        ),
    ),
]


@pytest.mark.parametrize(("d_in", "d_out"), SHAPES)
def test_dense_float32_is_numpys_product(d_in: int, d_out: int) -> None:
    x = RNG.standard_normal(d_in).astype(np.float32)
    weights = (RNG.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    bias = RNG.standard_normal(d_out).astype(np.float32)
    got = _parsed(_mapkernel.dense(_raw(x), weights, d_in, d_out, bias))
    np.testing.assert_allclose(got, x @ weights + bias, rtol=1e-5, atol=1e-5)
    unbiased = _parsed(_mapkernel.dense(_raw(x), weights, d_in, d_out, None))
    np.testing.assert_allclose(unbiased, x @ weights, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("portable", KERNELS)
@pytest.mark.parametrize(("d_in", "d_out"), SHAPES)
def test_dense_bfloat16_reads_the_same_numbers_as_the_rounded_float32_map(
    d_in: int, d_out: int, portable: bool
) -> None:
    x = RNG.standard_normal(d_in).astype(np.float32)
    raw = (RNG.standard_normal((d_in, d_out)) / np.sqrt(d_in)).astype(np.float32)
    rounded = bfloat16_weights(LinearMap("procrustes", raw, np.zeros(d_out, np.float32)))
    assert not (rounded.weights.view(np.uint32) & 0xFFFF).any()
    pairs = bfloat16_pairs(rounded.weights)
    bias = RNG.standard_normal(d_out).astype(np.float32)
    got = _parsed(_mapkernel.dense_bf16(_raw(x), pairs, d_in, d_out, bias, portable))
    expected = x.astype(np.float64) @ rounded.weights.astype(np.float64) + bias
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("portable", KERNELS)
def test_dense_bfloat16_keeps_every_bit_of_the_query(portable: bool) -> None:
    """Through the identity map the query comes back bit for bit: the AVX-512 kernel
    splits it in three bfloat16 parts that sum to it exactly (one part alone would keep
    8 of its 24 bits)."""
    d = 40
    x = RNG.standard_normal(d).astype(np.float32) * np.float32(1 + 2**-20)
    assert (x.view(np.uint32) & 0xFFFF).any()
    pairs = bfloat16_pairs(np.eye(d, dtype=np.float32))
    got = _parsed(_mapkernel.dense_bf16(_raw(x), pairs, d, d, None, portable))
    assert got.tobytes() == x.tobytes()


def test_bfloat16_pairs_interleave_two_rows_per_element() -> None:
    """Element j of pair p: row 2p's bfloat16 in the low half, row 2p+1's in the high
    half; an odd last row is paired with zeros."""
    weights = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]], dtype=np.float32)
    pairs = bfloat16_pairs(weights)
    top = (weights.view(np.uint32) >> 16).astype(np.uint32)
    assert pairs.shape == (2, 2)
    assert pairs.dtype == np.uint32
    assert pairs[0].tolist() == (top[0] | top[1] << 16).tolist()
    assert pairs[1].tolist() == top[2].tolist()


def test_residual_is_x_plus_x_u_v_plus_b() -> None:
    d, rank = 384, 64
    x = RNG.standard_normal(d).astype(np.float32)
    left = (RNG.standard_normal((d, rank)) / 20).astype(np.float32)
    right = (RNG.standard_normal((rank, d)) / 20).astype(np.float32)
    bias = RNG.standard_normal(d).astype(np.float32)
    got = _parsed(_mapkernel.residual(_raw(x), left, right, rank, bias))
    np.testing.assert_allclose(got, x + (x @ left) @ right + bias, rtol=1e-5, atol=1e-5)


def test_bfloat16_rounding_is_to_nearest_even() -> None:
    """1 + 2^-8 is halfway between two bfloat16 values: it goes to the even one (1.0);
    just above halfway rounds up; negative values mirror."""
    ulp = 2.0**-7  # bfloat16's step just above 1.0
    values = np.array(
        [1.0, 1 + ulp / 2, 1 + ulp / 2 + 2**-20, 1 + ulp + ulp / 2, -(1 + ulp / 2 + 2**-20)],
        dtype=np.float32,
    )
    rounded = bfloat16_weights(LinearMap("ridge", values.reshape(1, -1), np.zeros(5, np.float32)))
    expected = [1.0, 1.0, 1 + ulp, 1 + 2 * ulp, -(1 + ulp)]
    assert rounded.weights.ravel().tolist() == expected


@pytest.mark.parametrize(
    "linear",
    [
        LinearMap("procrustes", RNG.standard_normal((24, 12)).astype(np.float32), np.ones(12)),
        bfloat16_weights(
            LinearMap("procrustes", RNG.standard_normal((24, 12)).astype(np.float32), np.ones(12))
        ),
    ],
    ids=["float32", "bfloat16"],
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
    assert _mapkernel.dense(raw, weights, 8, 8, None) is None
    for portable in (True, False):
        assert _mapkernel.dense_bf16(raw, bfloat16_pairs(weights), 8, 8, None, portable) is None
    assert _mapkernel.residual(raw, weights, weights, 8, None) is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda raw: _mapkernel.dense(raw, np.ones((8, 3), np.float32), 8, 8, None), "weights"),
        (lambda raw: _mapkernel.dense(raw, np.ones((8, 8), np.float32), 8, 8, np.ones(3)), "bias"),
        (lambda raw: _mapkernel.dense(raw, np.ones((8, 8), np.float32), 0, 8, None), "positive"),
        (  # row-major bfloat16 bits (half the bytes), not row pairs
            lambda raw: _mapkernel.dense_bf16(raw, np.ones((8, 8), np.uint16), 8, 8, None),
            "row pairs",
        ),
        (
            lambda raw: _mapkernel.dense_bf16(raw, np.ones((4, 8), np.uint32), 8, 0, None),
            "positive",
        ),
        (
            lambda raw: _mapkernel.residual(
                raw, np.ones((8, 2), np.float32), np.ones((3, 8), np.float32), 2, None
            ),
            "right",
        ),
        (
            lambda raw: _mapkernel.residual(
                raw, np.ones((8, 2), np.float32), np.ones((2, 8), np.float32), 0, None
            ),
            "rank",
        ),
    ],
    ids=[
        "weights size",
        "bias size",
        "zero dimension",
        "bfloat16 layout",
        "bfloat16 zero dimension",
        "factor sizes",
        "zero rank",
    ],
)
def test_wrong_maps_are_errors(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(_packed(np.ones(8, np.float32)))
