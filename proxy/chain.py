"""The filter chain: request filters run in order, response filters in reverse.

    chain = Chain([Authenticate(...), Identify(...), Route(...), Validate(), Tag(...)], router)
    response = await chain.run(envelope)

A filter stops the chain by raising a `VecgateError`. Filters are synchronous and
cheap (their summed time is `envelope.policy_seconds`); only the terminal router
awaits the backend.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from proxy.envelope import Envelope


class Filter(Protocol):
    """One policy step."""

    def on_request(self, env: Envelope) -> None:
        """Inspect or rewrite the request; raise to refuse it."""

    def on_response(self, env: Envelope, response: Any) -> Any:
        """Inspect or rewrite the response; return it."""


class RequestFilter:
    """Base for filters that only act on the request."""

    def on_request(self, env: Envelope) -> None:
        """Inspect or rewrite the request; raise to refuse it."""

    def on_response(self, env: Envelope, response: Any) -> Any:
        """Pass the response through unchanged."""
        return response


Terminal = Callable[[Envelope], Awaitable[Any]]


class Chain:
    """An ordered list of filters ending in a terminal (the router)."""

    def __init__(self, filters: Sequence[Filter], terminal: Terminal) -> None:
        self.filters = tuple(filters)
        self.terminal = terminal

    async def run(self, env: Envelope) -> Any:
        """Run the request through every filter, the terminal, and back."""
        start = time.perf_counter()
        for item in self.filters:
            item.on_request(env)
        env.policy_seconds = time.perf_counter() - start
        response = await self.terminal(env)
        start = time.perf_counter()
        for item in reversed(self.filters):
            response = item.on_response(env, response)
        env.policy_seconds += time.perf_counter() - start
        return response
