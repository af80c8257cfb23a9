"""State that lives in the backend and that other vecgate replicas may change.

A `SharedState` caches what it last read. `refresh()` reads it again; `fresh(since)`
returns a state read by a refresh that started at or after `since`, which is how a
replica sees, at once, a change another replica acknowledged a moment ago.
Concurrent callers share one read, so a burst of misses costs one re-read.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from adapters.base import Backend

T = TypeVar("T")


class SharedState(ABC, Generic[T]):
    """A cached snapshot of backend-held state, re-read on demand."""

    def __init__(self, backend: Backend, initial: T) -> None:
        self.backend = backend
        self.state = initial
        #: When the read behind `state` started (`time.perf_counter`); -inf: never read.
        self.read_at = float("-inf")
        self._pending: asyncio.Future[T] | None = None

    @property
    def shared(self) -> bool:
        """Whether other replicas may change this state behind this process's back."""
        return self.backend.shared

    @abstractmethod
    async def _read(self) -> T:
        """Read the whole state from the backend."""

    async def refresh(self) -> T:
        """Read the state again. A read that started before the one behind the current
        state does not replace it, so a slow refresh never undoes a newer one."""
        started = time.perf_counter()
        state = await self._read()
        if started >= self.read_at:
            self.state, self.read_at = state, started
        return self.state

    async def fresh(self, since: float) -> T:
        """A state read by a refresh that started at or after `since` (a perf_counter
        time). On a backend only this process changes, the cache is always fresh."""
        if not self.shared:
            return self.state
        while self.read_at < since:
            if self._pending is None:
                self._pending = asyncio.ensure_future(self._shared_refresh())
            await asyncio.shield(self._pending)
        return self.state

    async def _shared_refresh(self) -> T:
        try:
            return await self.refresh()
        finally:
            self._pending = None
