"""The model gateway of a Ray run: workers ask, the driver's own `LLMClient` answers.

On Ray the agents run in worker processes on other nodes, but the model must still be
reached through the driver's client, so that three promises hold unchanged:

- *replay*: every request is keyed and cached by the driver's `LLMClient.chat`, exactly as in
  a local run, in the repository's one cache directory; `--offline` replays a Ray run (on
  Ray or locally) with zero requests, and a local run's cache serves a Ray run;
- *secrecy*: the API key never leaves the driver process (no runtime env, no actor argument,
  nothing on disk); workers hold only a handle to the relay;
- *accounting*: tokens, cost and cache hits are counted by the driver's client, so a step's
  usage is what the trainer already reads.

`LLMRelay` is a small async Ray actor pinned to the driver's node: a worker's `ask` waits
in it until the driver's `pump` (a coroutine on the driver's event loop, running while an
evaluation runs) takes the request, calls `LLMClient.chat(...)` with the same arguments, and
posts the answer back. `RelayedLLM` is what a worker's agent holds instead of a client: a
`ChatModel` (`llm/chat_model.py`), the very protocol the driver's `LLMClient` meets.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from fnforge.config import LLMSettings
from fnforge.engine.llm import (
    SEED_OFFSET,
    ChatModel,
    LLMContextLength,
    LLMError,
    LLMRefused,
    LLMToolsRefused,
    LLMUnavailable,
    Reply,
    Usage,
)

TAKE_MAX = 256  # requests the driver takes from the relay at a time
TAKE_WAIT_S = 0.5  # how long one take waits for a first request


class LLMRelay:
    """The relay actor (made remote by the executor): a queue of asks and a future per ask."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[int, dict[str, Any]]] = asyncio.Queue()
        self._waiting: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)

    async def ask(self, request: dict[str, Any]) -> tuple[str, Any]:
        """Called by a worker: wait for the driver's answer, ("ok", Reply) or ("error", kind, text)."""
        rid = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        self._queue.put_nowait((rid, request))
        try:
            return await future
        finally:
            self._waiting.pop(rid, None)

    async def take(
        self, most: int = TAKE_MAX, wait_s: float = TAKE_WAIT_S
    ) -> list[tuple[int, dict[str, Any]]]:
        """Called by the driver: the asks waiting now (after up to `wait_s` for a first one)."""
        try:
            first = await asyncio.wait_for(self._queue.get(), wait_s)
        except TimeoutError:
            return []
        out = [first]
        while len(out) < most and not self._queue.empty():
            out.append(self._queue.get_nowait())
        # an ask whose worker died or was cancelled meanwhile needs no answer
        return [(rid, req) for rid, req in out if rid in self._waiting]

    async def answer(self, rid: int, result: tuple[str, Any]) -> None:
        """Called by the driver: hand a reply (or an error) to the worker waiting for it."""
        future = self._waiting.get(rid)
        if future is not None and not future.done():
            future.set_result(result)

    async def fail_all(self, message: str) -> int:
        """Called by the driver when an evaluation is abandoned: every waiting ask gets an error."""
        while not self._queue.empty():
            self._queue.get_nowait()
        n = 0
        for future in list(self._waiting.values()):
            if not future.done():
                future.set_result(("error", "LLMError", message))
                n += 1
        return n

    def ping(self) -> bool:
        """Ready check."""
        return True


class RelayedLLM(ChatModel):
    """What a worker's agent holds instead of an `LLMClient`: a `ChatModel` whose `chat` goes through the relay.

    It carries the settings (no key: the settings only name the environment variable) for
    agents that read them; its `usage` stays empty because the driver's client counts.
    """

    def __init__(self, relay: Any, settings: LLMSettings):
        self.relay = relay
        self.settings = settings
        self.offline = False
        self.usage = Usage()
        self.windows: dict[
            str, int
        ] = {}  # the driver's client learns windows; agents here use the configured ones

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Reply:
        """The driver's `LLMClient.chat(messages, ...)` with the same options, through the relay."""
        options = {
            "model": model,
            "tools": tools,
            "stop": stop,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        # a repeat's seed offset lives in this rollout's context: it must reach the driver's client
        request = {
            "messages": messages,
            "seed_offset": SEED_OFFSET.get(),
            **{k: v for k, v in options.items() if v is not None},
        }
        result = await self.relay.ask.remote(request)
        if result[0] == "ok":
            return result[1]
        _, kind, text, *extra = result
        refusal = {
            "LLMRefused": LLMRefused,
            "LLMContextLength": LLMContextLength,
            "LLMToolsRefused": LLMToolsRefused,
        }
        if kind in refusal:  # this request only: the task records it (or, for tools, says what to set)
            raise refusal[kind](text, extra[0] if extra else text)
        if kind == "LLMUnavailable":
            raise LLMUnavailable(text)
        if kind == "LLMError":
            raise LLMError(text)
        raise RuntimeError(f"{kind}: {text}")

    async def close(self) -> None:
        """Nothing to close: the connections are the driver's."""


class Gateway:
    """The driver's side of the relay: serves asks with the driver's `LLMClient` while it lives.

    One serving loop per executor, started on the driver's event loop at the first evaluation
    and stopped at `close`, so no take is ever abandoned with asks in it. An `LLMError` (bad key,
    endpoint gone, offline cache miss) goes back to the asking worker, whose evaluation then
    stops, and is kept in `failure` so the driver raises that very error.
    """

    def __init__(self, relay: Any, llm: Any):
        self.relay = relay
        self.llm = llm
        self.failure: LLMError | None = None
        self._task: asyncio.Task | None = None
        self._answering: set[asyncio.Task] = set()

    def ensure_running(self) -> None:
        """Start serving (call inside the driver's event loop); a no-op while it serves."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._serve_forever())

    async def _serve_forever(self) -> None:
        try:
            while True:
                batch = await asyncio.wrap_future(self.relay.take.remote().future())
                for rid, request in batch:
                    job = asyncio.create_task(self._serve(rid, request))
                    self._answering.add(job)
                    job.add_done_callback(self._answering.discard)
        finally:
            for job in list(self._answering):
                job.cancel()

    async def _serve(self, rid: int, request: dict[str, Any]) -> None:
        offset = SEED_OFFSET.set(int(request.pop("seed_offset", 0)))
        try:
            result: tuple[Any, ...] = ("ok", await self.llm.chat(**request))
        except LLMRefused as exc:  # one request refused: the asking task fails, the run goes on
            result = ("error", type(exc).__name__, str(exc), exc.provider_message)
        except LLMError as exc:
            self.failure = exc
            kind = "LLMUnavailable" if isinstance(exc, LLMUnavailable) else "LLMError"
            result = ("error", kind, str(exc))
        except Exception as exc:  # noqa: BLE001 - the worker's task records it as its error
            result = ("error", type(exc).__name__, str(exc))
        finally:
            SEED_OFFSET.reset(offset)
        self.relay.answer.remote(rid, result)

    def stop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Stop serving (from any thread)."""
        if self._task is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._task.cancel)
        self._task = None
