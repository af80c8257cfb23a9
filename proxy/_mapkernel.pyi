"""Types of the C module `proxy/_mapkernel.c` (docs/decisions.md, 50 and 53)."""

from typing import Any

from numpy.typing import NDArray

def dense(
    raw: bytes, weights: NDArray[Any], d_in: int, d_out: int, bias: NDArray[Any] | None
) -> bytes | None:
    """DenseVector bytes of ``x W + b`` (W float32, row-major), or None when `raw` is
    not one packed block of `d_in` floats."""

def residual(
    raw: bytes, left: NDArray[Any], right: NDArray[Any], rank: int, bias: NDArray[Any] | None
) -> bytes | None:
    """DenseVector bytes of ``x + (x U) V + b``, or None when `raw` is not one packed
    block of U's row count floats."""

#: "avx512_vnni" where this CPU has the AVX-512 VNNI byte dot product, else "portable".
I8_KERNEL: str

def dense_i8(
    raw: bytes,
    weights: NDArray[Any],
    scales: NDArray[Any],
    sums: NDArray[Any],
    d_in: int,
    d_out: int,
    bias: NDArray[Any] | None,
    portable: bool = False,
) -> bytes | None:
    """DenseVector bytes of ``x W + b``, W as int8 blocks times a scale per column
    (`int8_form`), or None when `raw` is not one packed block of `d_in` finite floats;
    `portable` runs the loop of any CPU instead of the VNNI dot product."""
