"""`vecgate serve` keeps large buffers in the heap: glibc accepts the thresholds."""

from __future__ import annotations

import platform

import pytest

from proxy.heap import keep_large_buffers


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds are glibc's")
def test_glibc_accepts_the_heap_thresholds():
    """Both mallopt calls succeed (a value over glibc's maximum would be refused)."""
    assert keep_large_buffers() is True
