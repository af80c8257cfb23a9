"""Types of the C module `proxy/_mapkernel.c` (docs/decisions.md, 50, 53 and 54)."""

from typing import Any, final

from numpy.typing import NDArray

#: "avx512_vnni" where this CPU has the AVX-512 VNNI byte dot product, else "portable".
I8_KERNEL: str

@final
class Kernel:
    """A bridge map held in C memory, with the scratch of its product."""

    @property
    def d_in(self) -> int:
        """Input dimension."""

    @property
    def d_out(self) -> int:
        """Output dimension."""

    def apply(self, raw: bytes) -> bytes | None:
        """DenseVector bytes of the mapped vector, or None when `raw` is not one packed
        block of `d_in` floats (or, for an int8 map, holds a non-finite value)."""

def dense(weights: NDArray[Any], d_in: int, d_out: int, bias: NDArray[Any] | None) -> Kernel:
    """``x W + b`` (W float32, row-major)."""

def residual(
    left: NDArray[Any], right: NDArray[Any], rank: int, bias: NDArray[Any] | None
) -> Kernel:
    """``x + (x U) V + b`` (U: d x rank, V: rank x d, float32)."""

def dense_i8(
    weights: NDArray[Any],
    scales: NDArray[Any],
    sums: NDArray[Any],
    d_in: int,
    d_out: int,
    bias: NDArray[Any] | None,
    portable: bool = False,
) -> Kernel:
    """``x W + b``, W as int8 blocks times a scale per column (`int8_form`); `portable`
    runs the loop of any CPU instead of the VNNI dot product."""
