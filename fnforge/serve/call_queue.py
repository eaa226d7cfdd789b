"""How many tool calls run at once, how many may wait, and the "busy" answer past that.

A call runs in a thread (the sandbox pool's `call` blocks) while the event loop keeps
answering other requests. At most `workers` calls run at once, the pool's size, so none
waits inside the pool; up to `waiting` more queue for a worker; a call past that is refused
at once with `Busy` instead of piling up without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class Busy(RuntimeError):
    """Every worker is busy and the queue is full; the message says so and what to do."""


class CallQueue:
    """Admission for blocking calls: `workers` at once, `waiting` more in line, the rest refused."""

    def __init__(self, workers: int, waiting: int):
        self.workers = workers
        self.waiting = waiting
        self._limiter = anyio.CapacityLimiter(workers)
        self._admitted = 0  # running + waiting; touched only on the event loop's thread

    @property
    def admitted(self) -> int:
        """Calls running or waiting right now."""
        return self._admitted

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run `fn(*args)` in a worker thread once a slot is free; Busy when the line is full."""
        if self._admitted >= self.workers + self.waiting:
            raise Busy(
                f"busy: all {self.workers} sandbox workers are running calls and {self.waiting} more "
                "are waiting (the queue is full); try again shortly"
            )
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        finally:
            self._admitted -= 1
