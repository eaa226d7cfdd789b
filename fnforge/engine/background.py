"""An event loop on its own thread, so synchronous code can await the engine's async work.

The trainer's control flow, `repo.judge` and the gates are plain synchronous code (a gate's
`check` is a function), while agents and the LLM client are async. Running all async work
on one long-lived loop in a background thread lets a synchronous caller (the trainer, the
validation gate inside `repo.judge`, the `eval` command) submit a coroutine and wait for
it, while the SDK's HTTP connections stay bound to that one loop. Ctrl-C arrives in the main
thread as KeyboardInterrupt while it waits; `run` then cancels the work on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """A running asyncio loop on a daemon thread with a thread pool sized for sandbox calls."""

    def __init__(self, threads: int = 16):
        self.loop = asyncio.new_event_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(4, threads), thread_name_prefix="fnforge-call"
        )
        self.loop.set_default_executor(self._executor)
        self._thread = threading.Thread(target=self._serve, name="fnforge-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop and wait for its result (from any other thread)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("BackgroundLoop.run called from the loop's own thread")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop and its threads."""
        if self.loop.is_closed():
            return

        async def _drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(_drain(), self.loop).result(timeout=5)
        except Exception:  # noqa: BLE001 - best effort on shutdown
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if not self._thread.is_alive():
            self.loop.close()

    def __enter__(self) -> BackgroundLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
