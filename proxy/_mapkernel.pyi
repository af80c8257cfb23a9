"""Types of the C module `proxy/_mapkernel.c` (docs/decisions.md, 50)."""

from typing import Any

from numpy.typing import NDArray

def dense(
    raw: bytes, weights: NDArray[Any], d_in: int, d_out: int, bias: NDArray[Any] | None
) -> bytes | None:
    """DenseVector bytes of ``x W + b`` (W float32 or bfloat16 bits), or None when `raw`
    is not one packed block of `d_in` floats."""

def residual(
    raw: bytes, left: NDArray[Any], right: NDArray[Any], rank: int, bias: NDArray[Any] | None
) -> bytes | None:
    """DenseVector bytes of ``x + (x U) V + b``, or None when `raw` is not one packed
    block of U's row count floats."""
