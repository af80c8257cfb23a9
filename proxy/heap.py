"""Keep large freed buffers in the process heap instead of handing them back to the kernel.

A 256-point upsert of 384-d vectors with text payloads is ~0.5 MB, and every copy of
it (gRPC's receive buffer, `SerializeToString`, a `bytes` read) is a large
allocation. glibc serves those with a fresh `mmap` and returns them with `munmap`,
so each copy page-faults its way through fresh zeroed pages: serialising such a
request took 0.76-0.85 ms this way and 0.05-0.15 ms with the buffers reused
(docs/benchmarks.md, "Upsert path"). Raising the mmap and trim thresholds keeps
those buffers in the heap for reuse; the cost is up to `TRIM` bytes of freed heap
the process keeps instead of returning.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
MMAP = 32 * 1024 * 1024  # allocations up to this size come from the heap
TRIM = 64 * 1024 * 1024  # free heap kept before it is returned to the kernel


def keep_large_buffers() -> bool:
    """Set glibc's thresholds; False (and nothing changed) on another C library."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM))
    if not done:
        log.debug("mallopt refused the heap thresholds; large buffers stay mmap'd")
    return done
