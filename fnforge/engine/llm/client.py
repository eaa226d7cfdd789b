"""`LLMClient`: async chat completions against any OpenAI-compatible endpoint, cached and counted.

Every model call of a training run goes through `LLMClient.chat`. This is the only module
importing the `openai` SDK, so that three promises hold in one place:

- *replay*: every reply is cached (`cache.py`), keyed by a hash of the full request; a rerun
  asks nothing twice, a resumed step gets the same answers, and `offline=True` turns a cache
  miss into `LLMCacheMiss` with zero HTTP requests;
- *secrecy*: the API key is read from the environment variable that the settings name,
  handed to the SDK, and never written to the cache, notes, transcripts or logs;
- *a budget*: with a `ledger` (`engine/ledger.py`), each request's worst case (the prompt as
  measured plus its reply limit) is reserved before it is sent and settled with the tokens the
  endpoint reports; `BudgetExhausted` is raised instead of sending what cannot be afforded.
  A reply from the cache is never reserved: it costs nothing;
- *robustness*: a concurrency limit, and retries with exponential backoff on 5xx, timeouts
  and dropped connections; a 429 waits as long as its `Retry-After` asks, up to
  `[llm] max_wait_s` in all, saying so through `on_wait` ("rate limited, waiting 40 s").

The SDK's exceptions are mapped to `errors.py`'s kinds here and never cross; a 400 becomes a
refused `Reply` that is cached like any other, sorted by `refusals.read_refusal` (its fields
first, then its text). A context-length refusal that states the model's window teaches the
client that window (`windows`, by model name) for the rest of its life: callers fit their
requests to `window(model, configured)`. A replay meets the same cached refusal at the same
point, so it learns the same window at the same moment and builds the same prompts. A cut reply keeps its `finish_reason =
"length"` for the caller to see. Tokens and cost are counted in a `Usage` (`replies.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from fnforge.config import LLMSettings
from fnforge.engine.llm.cache import ReplyCache, request_key
from fnforge.engine.llm.chat_model import SEED_OFFSET
from fnforge.engine.llm.errors import (
    REFUSAL_CONTEXT,
    REFUSAL_TOOLS,
    LLMCacheMiss,
    LLMContextLength,
    LLMError,
    LLMRefused,
    LLMToolsRefused,
    LLMUnavailable,
)
from fnforge.engine.llm.refusals import read_refusal, stated_window
from fnforge.engine.llm.replies import Reply, ToolCall, Usage
from fnforge.engine.tokens import request_tokens


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code == 408 or exc.status_code >= 500
    return False


class LLMClient:
    """Async chat completions against any OpenAI-compatible endpoint, cached and counted.

    One client serves one event loop (the SDK's HTTP client is made on first use, inside the
    loop that uses it). `offline=True` never builds an SDK client at all.
    """

    def __init__(
        self,
        settings: LLMSettings,
        cache_root: Path | None,
        *,
        offline: bool = False,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.settings = settings
        self.cache = ReplyCache(cache_root) if cache_root is not None else None
        self.offline = offline
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        # told one line before each wait for a rate limit (called on the client's event loop)
        self.on_wait = on_wait
        self.answered = False  # an HTTP request of this client got an answer (so the setup works)
        self.usage = Usage()
        self.ledger: Any = None  # engine.ledger.Ledger: the run's budget (None: no limit is kept)
        self.windows: dict[str, int] = {}  # context windows learned from refusals, by model name
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        if offline and self.cache is None:
            raise LLMError("offline replay needs a reply cache; pass the repository's cache directory")

    def _sdk(self) -> Any:
        if self._client is None:
            key = os.environ.get(self.settings.api_key_env) or "no-key-set"
            self._client = openai.AsyncOpenAI(
                api_key=key,
                base_url=self.settings.base_url,
                timeout=self.settings.timeout_s,
                max_retries=0,  # retries are ours: counted, and the same for every endpoint
            )
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        return self._client

    def request(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        stop: list[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> dict[str, Any]:
        """The full request as sent (and as hashed for the cache)."""
        req: dict[str, Any] = {
            "model": model or self.settings.model,
            "messages": messages,
            "temperature": self.settings.temperature if temperature is None else temperature,
            "seed": self.settings.seed + SEED_OFFSET.get(),
            "max_tokens": max_tokens or self.settings.max_tokens,
        }
        if tools:
            req["tools"] = tools
        if stop:
            req["stop"] = stop
        return req

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
        """One chat completion: from the cache when it holds the request, else from the endpoint.

        Raises `LLMContextLength` / `LLMRefused` for a refused request (also when the refusal
        comes from the cache), `LLMUnavailable` when the endpoint stays busy or down.
        """
        req = self.request(
            messages, model=model, tools=tools, stop=stop, max_tokens=max_tokens, temperature=temperature
        )
        return self._refusal_raised(await self._reply(req), req)

    async def choices(
        self,
        messages: list[dict[str, Any]],
        *,
        n: int,
        model: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> list[Reply]:
        """`n` replies to one prompt: one request with `n` set, so the prompt is paid once.

        An endpoint that answers fewer choices (many ignore `n`) gets each missing one asked
        alone, with the seed offset by its index (`seed + i`), so the replies still differ.
        """
        req = self.request(messages, model=model, tools=tools, max_tokens=max_tokens, temperature=temperature)
        if n > 1:
            req["n"] = n
        first = self._refusal_raised(await self._reply(req), req)
        got = [first, *first.more]
        for i in range(len(got), n):
            token = SEED_OFFSET.set(SEED_OFFSET.get() + i)
            try:
                got.append(
                    await self.chat(
                        messages, model=model, tools=tools, max_tokens=max_tokens, temperature=temperature
                    )
                )
            finally:
                SEED_OFFSET.reset(token)
        return got[:n]

    async def _reply(self, req: dict[str, Any]) -> Reply:
        """The cached reply to a request, or the endpoint's (reserved against the budget, then cached)."""
        key = request_key(req)
        reply = self.cache.get(key) if self.cache is not None else None
        if reply is None:
            if self.offline:
                raise LLMCacheMiss(
                    f"offline: no cached reply for a request to {req['model']} "
                    f"({len(req['messages'])} messages, key {key[:12]}); "
                    "run without --offline to ask the model"
                )
            reserved = None
            if self.ledger is not None:  # raises BudgetExhausted before anything is sent
                size = request_tokens(req["messages"], req.get("tools"))
                reserved = self.ledger.reserve(req["model"], size, req["max_tokens"], req.get("n", 1))
            try:
                reply = await self._ask(req)
            except BaseException:
                if reserved is not None:
                    self.ledger.release(reserved)
                raise
            if reserved is not None:
                self.ledger.settle(reserved, reply.prompt_tokens, reply.completion_tokens)
            if self.cache is not None:
                self.cache.put(key, req, reply)
        else:
            self.usage.cache_hits += 1
        self._count(req["model"], reply)
        return reply

    def _refusal_raised(self, reply: Reply, req: dict[str, Any]) -> Reply:
        """The reply, or its refusal raised (`_refuse`: context length, tools, other)."""
        if reply.refused is not None:
            self.usage.refusals += 1
            self._refuse(req["model"], reply)
        return reply

    def window(self, model: str, configured: int) -> int:
        """The context window to fit requests to `model` to: the configured one, or a smaller learned one."""
        return min(configured, self.windows.get(model, configured))

    def learn_window(self, model: str, tokens: int) -> None:
        """Remember that `model` has a context window of `tokens` (a refusal said so; a resumed run's notes)."""
        self.windows[model] = min(tokens, self.windows.get(model, tokens))

    def _refuse(self, model: str, reply: Reply) -> None:
        text = f"LLM endpoint {self.settings.base_url} refused the request (HTTP 400): {reply.refused}"
        message = reply.refused or ""
        if reply.refusal_kind == REFUSAL_CONTEXT:
            window = reply.window or stated_window({}, message)  # caches written before windows were kept
            if window:
                self.learn_window(model, window)
            raise LLMContextLength(text, message, window)
        if reply.refusal_kind == REFUSAL_TOOLS:
            raise LLMToolsRefused(text, message)
        raise LLMRefused(text, message)

    def _count(self, model: str, reply: Reply) -> None:
        u = self.usage
        u.calls += 1
        if reply.cached:  # asked and paid for in an earlier run: reported apart, costs nothing now
            u.cached_tokens += reply.prompt_tokens + reply.completion_tokens
            return
        u.prompt_tokens += reply.prompt_tokens
        u.completion_tokens += reply.completion_tokens
        price = self.settings.prices.get(model) or {}
        u.cost_usd += (
            reply.prompt_tokens * float(price.get("input", 0.0))
            + reply.completion_tokens * float(price.get("output", 0.0))
        ) / 1e6

    async def _ask(self, req: dict[str, Any]) -> Reply:
        client = self._sdk()
        assert self._semaphore is not None
        attempt = 0  # retries of 5xx, timeouts and dropped connections (bounded by max_retries)
        limited = 0  # waits for 429 (bounded by max_wait_s in all)
        waited = 0.0
        while True:
            try:
                async with self._semaphore:
                    self.usage.http_requests += 1
                    resp = await client.chat.completions.create(**req)
                self.answered = True
                return _reply_from(resp)
            except openai.BadRequestError as exc:  # 400: this request will never be answered
                self.answered = True
                message = _provider_message(exc)
                refusal = read_refusal(getattr(exc, "body", None), message, getattr(exc, "code", None))
                return Reply(
                    content=None,
                    finish_reason="refused",
                    refused=message,
                    refusal_kind=refusal.kind,
                    window=refusal.window,
                )
            except Exception as exc:  # noqa: BLE001 - sorted into retry / clear error below
                rate_limited = isinstance(exc, openai.APIStatusError) and exc.status_code == 429
                if rate_limited:
                    asked = _retry_after(exc, float("inf"))  # a wait past max_wait_s is not started
                    backoff = min(self.max_backoff_s, self.backoff_s * (2**limited))
                    delay = asked or backoff * (0.5 + random.random() / 2)
                    if waited + delay > self.settings.max_wait_s:
                        raise self._unavailable(
                            exc, f"rate limited for {waited:.0f} s", rate_limited=True
                        ) from None
                    limited += 1
                    self.usage.retries += 1
                    if self.on_wait is not None and delay >= 1.0:
                        with contextlib.suppress(Exception):  # a display problem must not fail a request
                            self.on_wait(f"rate limited, waiting {delay:.0f} s")
                else:
                    if not _retryable(exc) or attempt >= self.settings.max_retries:
                        if _retryable(exc) and self.answered:
                            raise self._unavailable(exc, f"after {attempt + 1} attempts") from None
                        raise self._explain(exc, attempt) from None
                    delay = min(self.max_backoff_s, self.backoff_s * (2**attempt))
                    delay *= 0.5 + random.random() / 2
                    attempt += 1
                    self.usage.retries += 1
                waited += delay
                self.usage.waited_s += delay
                await asyncio.sleep(delay)

    def _unavailable(self, exc: BaseException, how: str, *, rate_limited: bool = False) -> LLMUnavailable:
        status = getattr(exc, "status_code", None)
        what = f"HTTP {status}" if status else type(exc).__name__
        return LLMUnavailable(
            f"LLM endpoint {self.settings.base_url} still busy or down ({what}, {how}); "
            "the run stops here as interrupted: continue it later with `fnforge train --resume`"
            + (" or raise [llm] max_wait_s" if rate_limited else ""),
            rate_limited=rate_limited,
        )

    def _explain(self, exc: BaseException, attempt: int) -> LLMError:
        where = f"LLM endpoint {self.settings.base_url}"
        tries = f" after {attempt + 1} attempts" if attempt else ""
        if isinstance(exc, openai.AuthenticationError):
            return LLMError(
                f"{where} refused the key (401){tries}; export {self.settings.api_key_env}=<your key> "
                "or point [llm] base_url at an endpoint that needs none"
            )
        if isinstance(exc, openai.APIStatusError):
            return LLMError(
                f"{where} answered HTTP {exc.status_code}{tries}: {_short(exc)}; "
                "check [llm] model and base_url in fnforge.toml"
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(
                f"{where} did not answer{tries} ({type(exc).__name__}); "
                "check [llm] base_url and that the server is running"
            )
        return LLMError(f"{where}: {type(exc).__name__}: {_short(exc)}")

    async def reachable(self, timeout_s: float = 5.0) -> str | None:
        """None when the endpoint answers a model listing, else why not (one line)."""
        if self.offline:
            return None
        client = openai.AsyncOpenAI(
            api_key=os.environ.get(self.settings.api_key_env) or "no-key-set",
            base_url=self.settings.base_url,
            timeout=timeout_s,
            max_retries=0,
        )
        try:
            await client.models.list()
            return None
        except Exception as exc:  # noqa: BLE001 - every failure becomes the reason
            return str(self._explain(exc, 0))
        finally:
            await client.close()

    async def close(self) -> None:
        """Close the SDK's HTTP connections (call inside the loop that used the client)."""
        if self._client is not None:
            await self._client.close()
            self._client = None


def _retry_after(exc: BaseException, cap: float) -> float:
    """Seconds the endpoint asked us to wait (a Retry-After header), capped; 0 when it did not say."""
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(cap, max(0.0, float(value))) if value else 0.0
    except ValueError:  # an HTTP date: fall back to our own backoff
        return 0.0


def _provider_message(exc: BaseException) -> str:
    """The error message the provider wrote (its JSON `error.message`), else the exception's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _choice(choice: Any) -> Reply:
    msg = choice.message
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
        for c in (msg.tool_calls or [])
        if getattr(c, "function", None) is not None
    ]
    return Reply(content=msg.content, tool_calls=calls, finish_reason=choice.finish_reason)


def _reply_from(resp: Any) -> Reply:
    """The first choice, carrying the others in `more` and the whole response's token counts."""
    first, *more = [_choice(c) for c in resp.choices]
    usage = resp.usage
    first.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    first.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    first.more = more
    return first
