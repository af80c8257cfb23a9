"""Packed float vectors read from wire bytes equal the repeated field, at every size."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client.grpc import points_pb2 as ppb

from proxy.wire import packed_floats, packed_matrix


@pytest.mark.parametrize("dim", [0, 1, 3, 31, 32, 33, 384, 4096, 40_000])
def test_packed_floats_equal_the_repeated_field(dim):
    """Any dimension (1-, 2- and 3-byte length prefixes) reads back exactly, as float32."""
    values = np.random.default_rng(dim).standard_normal(dim).astype(np.float32)
    vector = ppb.DenseVector(data=values.tolist())
    got = packed_floats(vector)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)
    assert got.tolist() == list(vector.data)


def test_non_finite_values_survive_the_wire_read():
    """NaN and infinities are read as they are, so the validator's isfinite check sees them."""
    rows = [
        packed_floats(ppb.DenseVector(data=v))
        for v in ([1.0, 2.0], [0.0, float("inf")], [float("nan")])
    ]
    assert rows[0].tolist() == [1.0, 2.0]
    assert rows[1][1] == np.inf
    assert np.isnan(rows[2][0])
    assert [bool(np.isfinite(r).all()) for r in rows] == [True, False, False]


def test_packed_matrix_reads_a_batch_or_declines():
    """A batch of equal-size vectors reads as one matrix; any other size makes it decline."""
    rows = np.random.default_rng(1).standard_normal((5, 384)).astype(np.float32)
    messages = [ppb.DenseVector(data=row.tolist()) for row in rows]
    np.testing.assert_array_equal(packed_matrix(messages, 384), rows)
    assert packed_matrix([*messages, ppb.DenseVector(data=[1.0] * 383)], 384) is None
    assert packed_matrix([ppb.DenseVector()], 384) is None
    assert packed_matrix([], 3).shape == (0, 3)
