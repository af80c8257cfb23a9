"""Admission control: at most N requests run at once, M more may wait, the rest are refused.

A gateway that queues without bound turns overload into memory growth and timeouts
for everyone; one that refuses at once wastes capacity on bursts. vecgate does both,
bounded: `limits.max_concurrent_requests` run, `limits.max_queued_requests` wait (never
past their deadline), and anything beyond is refused at once with RESOURCE_EXHAUSTED
and a `retry-after`, before any work is done for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from proxy.errors import DeadlineExceeded, ResourceExhausted


class Admission:
    """A bounded semaphore with a bounded waiting room."""

    def __init__(self, concurrent: int, queued: int, retry_after: float) -> None:
        self.concurrent = concurrent
        self.queued = queued
        self.retry_after = retry_after
        self._slots = asyncio.Semaphore(concurrent)
        self.waiting = 0
        self.refused = 0

    @asynccontextmanager
    async def slot(self, timeout: float | None) -> AsyncIterator[None]:
        """Hold one of the running slots for the body; wait at most `timeout` seconds."""
        if self._slots.locked() and self.waiting >= self.queued:
            self.refused += 1
            raise ResourceExhausted(
                f"vecgate is at its limit of {self.concurrent} running and {self.queued} "
                f"waiting requests; retry after {self.retry_after:g} s (limits."
                "max_concurrent_requests, limits.max_queued_requests)",
                retry_after=self.retry_after,
                reason="overloaded",
            )
        if self._slots.locked():
            await self._wait(timeout)
        else:
            await self._slots.acquire()  # a free slot: taken at once, no timer needed
        try:
            yield
        finally:
            self._slots.release()

    async def _wait(self, timeout: float | None) -> None:
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except TimeoutError:
            raise DeadlineExceeded(
                f"the request waited {timeout:.3g} s for one of vecgate's "
                f"{self.concurrent} running slots and its deadline passed"
            ) from None
        finally:
            self.waiting -= 1
