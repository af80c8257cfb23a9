"""Types of the C module `proxy/_mapkernel.c` (docs/decisions.md, 50 and 52)."""

from typing import Any

from numpy.typing import NDArray

#: "avx512_bf16" where this CPU has the AVX-512 bfloat16 dot product, else "portable".
BF16_KERNEL: str

def dense(
    raw: bytes, weights: NDArray[Any], d_in: int, d_out: int, bias: NDArray[Any] | None
) -> bytes | None:
    """DenseVector bytes of ``x W + b`` (W float32, row-major), or None when `raw` is
    not one packed block of `d_in` floats."""

def dense_bf16(
    raw: bytes,
    pairs: NDArray[Any],
    d_in: int,
    d_out: int,
    bias: NDArray[Any] | None,
    portable: bool = False,
) -> bytes | None:
    """DenseVector bytes of ``x W + b``, W as bfloat16 row pairs (`bfloat16_pairs`);
    `portable` runs the loop of any CPU instead of the AVX-512 dot product."""

def residual(
    raw: bytes, left: NDArray[Any], right: NDArray[Any], rank: int, bias: NDArray[Any] | None
) -> bytes | None:
    """DenseVector bytes of ``x + (x U) V + b``, or None when `raw` is not one packed
    block of U's row count floats."""
