"""Types of the C module `proxy/_wirescan.c` (docs/decisions.md, 49)."""

def scan_upsert(
    raw: bytes,
) -> tuple[int, int, bytes, list[int] | None, frozenset[bytes], bool] | None:
    """An UpsertPoints' bytes read in one pass, or None unless every point is plain."""

def dense_finite(raw: bytes, size: int) -> bool | None:
    """Whether a DenseVector's bytes, one packed block of `size` floats, are all finite;
    None for any other layout."""
