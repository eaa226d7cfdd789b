"""A scripted model that misbehaves the way real endpoints do, in front of any test script.

`tests/llm_server.py` answers whatever a script says. Real models (gpt-4o-mini, Qwen under
vLLM or Ollama) also do what no polite script does, and the engine must survive each:

- a reply longer than the request's `max_tokens` is cut there: `finish_reason = "length"`,
  the text or the tool-call JSON ends mid-way;
- a prompt that, with its `max_tokens`, exceeds the model's context window is answered with
  HTTP 400 `context_length_exceeded`, worded like OpenAI's;
- a tool schema the provider does not take (an array without `items`) is HTTP 400;
- every `rate_limit_every`-th request is HTTP 429 with a `Retry-After`.

Tokens are counted as the server's `usage` counts them (4 characters a token), which is
not the engine's own estimate: the engine has to leave itself a margin. Whether the model
answers in prose instead of calling a tool is the wrapped script's choice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from llm_server import Reply, error

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    """The server's own token count of a text."""
    return max(1, len(text) // CHARS_PER_TOKEN)


def schema_problem(tools: list[dict]) -> str | None:
    """What a strict provider refuses in a request's tool schemas, or None."""

    def walk(node: Any, where: str) -> str | None:
        if isinstance(node, dict):
            if node.get("type") == "array" and "items" not in node:
                return f"Invalid schema for function '{where}': array schema missing items."
            for value in node.values():
                found = walk(value, where)
                if found:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = walk(value, where)
                if found:
                    return found
        return None

    for tool in tools:
        fn = tool.get("function", {})
        found = walk(fn.get("parameters", {}), fn.get("name", "?"))
        if found:
            return found
    return None


def cut(reply: Reply, max_tokens: int) -> Reply:
    """The reply as a model limited to `max_tokens` sends it: whole, or cut with finish "length"."""
    pieces = [reply.content or ""] + [
        args if isinstance(args, str) else json.dumps(args) for _, args in reply.calls
    ]
    if count_tokens("".join(pieces)) <= max_tokens:
        return reply
    room = max_tokens * CHARS_PER_TOKEN
    content = (reply.content or "")[:room]
    room -= len(content)
    calls = []
    for (name, _), text in zip(reply.calls, pieces[1:], strict=True):
        if room <= 0:
            break
        calls.append((name, text[:room]))  # the JSON stops mid-way, as a real cut does
        room -= len(text)
    return Reply(content=content or None, calls=calls, finish_reason="length")


class RealModel:
    """Wraps a script (request body -> Reply) with a real endpoint's limits and refusals."""

    def __init__(
        self,
        script: Callable[[dict], Any],
        *,
        context_tokens: dict[str, int] | int = 128_000,
        rate_limit_every: int = 0,
        retry_after: str = "1",
    ):
        self.script = script
        self.context_tokens = context_tokens
        self.rate_limit_every = rate_limit_every
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self.seen = 0
        self.refusals: list[str] = []  # "context", "schema": what was refused, in order

    def window(self, model: str) -> int:
        """The context window of a model."""
        if isinstance(self.context_tokens, int):
            return self.context_tokens
        return self.context_tokens.get(model, 128_000)

    def __call__(self, body: dict) -> Reply:
        with self._lock:
            self.seen += 1
            limited = self.rate_limit_every and self.seen % self.rate_limit_every == 0
        if limited:
            return error(429, retry_after=self.retry_after, message="Rate limit reached for requests")
        problem = schema_problem(body.get("tools") or [])
        if problem:
            with self._lock:
                self.refusals.append("schema")
            return error(400, message=problem, code="invalid_function_parameters")
        prompt = count_tokens(json.dumps(body.get("messages", []))) + count_tokens(
            json.dumps(body.get("tools") or [])
        )
        max_tokens = int(body.get("max_tokens") or 4096)
        window = self.window(body.get("model", ""))
        if prompt + max_tokens > window:
            with self._lock:
                self.refusals.append("context")
            return error(
                400,
                message=(
                    f"This model's maximum context length is {window} tokens. However, you requested "
                    f"{prompt + max_tokens} tokens ({prompt} in the messages, {max_tokens} in the "
                    "completion). Please reduce the length of the messages or completion."
                ),
                code="context_length_exceeded",
            )
        reply = self.script(body)
        if not isinstance(reply, Reply):
            reply = Reply(content=str(reply))
        if reply.status != 200:
            return reply
        return cut(reply, max_tokens)
