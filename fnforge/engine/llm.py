"""The one door to language models: an async OpenAI-compatible client with a replay cache.

Every model call of a training run goes through `LLMClient.chat`. It exists so the rest of
the engine never touches the `openai` SDK (this is the only module importing it) and so
that three promises hold in one place:

- *replay*: every reply is cached on disk under `<repo>/.git/fnforge/cache/`, keyed by a
  hash of the full request (model, messages, tools, temperature, seed, max_tokens, stop);
  a rerun asks nothing twice, a resumed step gets the same answers, and `offline=True`
  turns a cache miss into `LLMCacheMiss` with zero HTTP requests;
- *secrecy*: the API key is read from the environment variable that the settings name,
  handed to the SDK, and never written to the cache, notes, transcripts or logs;
- *robustness*: a concurrency limit, and retries with exponential backoff on 5xx, timeouts
  and dropped connections; a 429 waits as long as its `Retry-After` asks, up to
  `[llm] max_wait_s` in all, saying so through `on_wait` ("rate limited, waiting 40 s").

A real model is not a script, so failures are sorted by what a caller can do about them:
`LLMContextLength` (a 400 for a prompt over the context window: shrink it and ask again),
`LLMRefused` (any other 400: a filter, a schema the provider does not take; record it and go
on), `LLMUnavailable` (still rate limited or unreachable after the retries, on an endpoint
that had answered before: pause the run, `--resume` later) and plain `LLMError` (the user must
fix something: the key, the URL, the model name). Refusals are cached like replies, so an
offline replay meets the same refusal without a request. A cut reply keeps its
`finish_reason = "length"` for the caller to see.

Tokens and cost (from the settings' price table) are counted in a `Usage` the trainer
reads per step; replies served from the cache count as `cached_tokens` and cost nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import openai

from fnforge.config import LLMSettings

CACHE_FORMAT = 1

# added to [llm] seed for the requests of one repeat of a task (`[training] repeats`): the k
# rollouts of a task then differ, and the reply cache keeps each one apart; 0 leaves requests as before
SEED_OFFSET: contextvars.ContextVar[int] = contextvars.ContextVar("fnforge_seed_offset", default=0)


class LLMError(RuntimeError):
    """The model endpoint failed in a way retries cannot fix (bad key, bad URL, bad request)."""


class LLMCacheMiss(LLMError):
    """Offline replay asked for a request that the cache does not hold."""


class LLMRefused(LLMError):
    """The endpoint refused this request (HTTP 400: a content filter, a schema it does not take).

    Retrying the same request cannot help, but the run can go on: the caller records the
    refusal (`provider_message`) against the step or task that made the request.
    """

    def __init__(self, text: str, provider_message: str):
        super().__init__(text)
        self.provider_message = provider_message


class LLMContextLength(LLMRefused):
    """HTTP 400 because the prompt (plus the reply budget) exceeds the model's context window."""


class LLMUnavailable(LLMError):
    """An endpoint that answered before is rate limited or down beyond the retries and waits.

    Nothing is wrong with the setup or the request: the run stops as interrupted and
    `fnforge train --resume` continues it later (cached replies cost nothing then).
    """


REFUSAL_CONTEXT = "context_length"
REFUSAL_OTHER = "refused"


@dataclass
class Usage:
    """Tokens, cost and traffic of some model calls; `a - b` gives what happened in between."""

    calls: int = 0
    http_requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # tokens of replies served from the reply cache (no request, no cost)
    refusals: int = 0
    waited_s: float = 0.0
    cost_usd: float = 0.0

    def __sub__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) - getattr(other, k) for k in asdict(self)})

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in asdict(self)})

    def copy(self) -> Usage:
        """A frozen snapshot to diff against later."""
        return Usage(**asdict(self))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a step's note."""
        d = asdict(self)
        d["cost_usd"] = round(d["cost_usd"], 6)
        d["waited_s"] = round(d["waited_s"], 3)
        d["tokens"] = self.prompt_tokens + self.completion_tokens
        return d


@dataclass
class ToolCall:
    """One tool call the model asked for; `arguments` is the raw JSON text it wrote."""

    id: str
    name: str
    arguments: str


@dataclass
class Reply:
    """The assistant's message of one completion, plus its token counts."""

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    # a refusal (HTTP 400) is cached too, so a replay meets it without a request
    refused: str | None = None  # the provider's message
    refusal_kind: str | None = None  # REFUSAL_CONTEXT or REFUSAL_OTHER

    @property
    def cut(self) -> bool:
        """The reply stopped at the request's max_tokens: its text or tool-call JSON is incomplete."""
        return self.finish_reason == "length"

    def as_message(self) -> dict[str, Any]:
        """The assistant message to append to the conversation before the next turn."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return msg

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the cache file."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reply:
        """Rebuild a cached reply."""
        calls = [ToolCall(**c) for c in d.get("tool_calls") or []]
        return cls(
            content=d.get("content"),
            tool_calls=calls,
            finish_reason=d.get("finish_reason"),
            prompt_tokens=int(d.get("prompt_tokens") or 0),
            completion_tokens=int(d.get("completion_tokens") or 0),
            refused=d.get("refused"),
            refusal_kind=d.get("refusal_kind"),
        )


def request_key(request: dict[str, Any]) -> str:
    """The cache key: a hash of the request's canonical JSON (never includes the key or URL)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"v{CACHE_FORMAT}\n{canonical}".encode()).hexdigest()


class ReplyCache:
    """Replies on disk, one JSON file per request hash, written atomically."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Reply | None:
        """The cached reply for a request hash, or None."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        reply = Reply.from_dict(data["reply"])
        reply.cached = True
        return reply

    def put(self, key: str, request: dict[str, Any], reply: Reply) -> None:
        """Store a reply (and the request it answers, for audit) atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": CACHE_FORMAT, "request": request, "reply": reply.to_dict()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(tmp, path)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0


def cache_dir(repo_root: Path) -> Path:
    """Where a repository's replies are cached: inside .git, out of the tree and out of git objects."""
    return Path(repo_root) / ".git" / "fnforge" / "cache"


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
        key = request_key(req)
        reply = self.cache.get(key) if self.cache is not None else None
        if reply is None:
            if self.offline:
                raise LLMCacheMiss(
                    f"offline: no cached reply for a request to {req['model']} "
                    f"({len(messages)} messages, key {key[:12]}); "
                    "run without --offline to ask the model"
                )
            reply = await self._ask(req)
            if self.cache is not None:
                self.cache.put(key, req, reply)
        else:
            self.usage.cache_hits += 1
        self._count(req["model"], reply)
        if reply.refused is not None:
            self.usage.refusals += 1
            cls = LLMContextLength if reply.refusal_kind == REFUSAL_CONTEXT else LLMRefused
            raise cls(
                f"LLM endpoint {self.settings.base_url} refused the request (HTTP 400): {reply.refused}",
                reply.refused,
            )
        return reply

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
                kind = REFUSAL_CONTEXT if _is_context_length(exc, message) else REFUSAL_OTHER
                return Reply(content=None, finish_reason="refused", refused=message, refusal_kind=kind)
            except Exception as exc:  # noqa: BLE001 - sorted into retry / clear error below
                rate_limited = isinstance(exc, openai.APIStatusError) and exc.status_code == 429
                if rate_limited:
                    asked = _retry_after(exc, float("inf"))  # a wait past max_wait_s is not started
                    backoff = min(self.max_backoff_s, self.backoff_s * (2**limited))
                    delay = asked or backoff * (0.5 + random.random() / 2)
                    if waited + delay > self.settings.max_wait_s:
                        raise self._unavailable(exc, f"rate limited for {waited:.0f} s") from None
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

    def _unavailable(self, exc: BaseException, how: str) -> LLMUnavailable:
        status = getattr(exc, "status_code", None)
        what = f"HTTP {status}" if status else type(exc).__name__
        return LLMUnavailable(
            f"LLM endpoint {self.settings.base_url} still busy or down ({what}, {how}); "
            "the run stops here as interrupted: continue it later with `fnforge train --resume`"
            + (" or raise [llm] max_wait_s" if "rate limited" in how else "")
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


_CONTEXT_PHRASES = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "too many tokens",
)


def _is_context_length(exc: BaseException, message: str) -> bool:
    """A 400 for a prompt too long: OpenAI's `code`, or the wording vLLM, Ollama and others use."""
    code = getattr(exc, "code", None)
    if code == "context_length_exceeded":
        return True
    return any(p in message.lower() for p in _CONTEXT_PHRASES)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _reply_from(resp: Any) -> Reply:
    choice = resp.choices[0]
    msg = choice.message
    calls = [
        ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
        for c in (msg.tool_calls or [])
        if getattr(c, "function", None) is not None
    ]
    usage = resp.usage
    return Reply(
        content=msg.content,
        tool_calls=calls,
        finish_reason=choice.finish_reason,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )
