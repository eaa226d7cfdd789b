"""What an agent needs of a model client, as a protocol: `LLMClient` and the Ray relay's stand-in both fit.

An agent (and the local executor that runs it) asks `chat` for replies, reads `settings` and
`windows` (what refusals taught the client) for the context window and the reply budget, and
diffs `usage` around a rollout. The driver's
`LLMClient` is one such chat model; on a Ray worker `executors.ray.relay.RelayedLLM` is
another, whose `chat` is the driver's client's, reached through the relay. Declaring the
protocol keeps the two in step: a checker sees the relay's client as what agents take.

`SEED_OFFSET` is part of the contract: a chat model adds it to `[llm] seed` for the requests
of one repeat of a task (`[training] repeats`), so the k rollouts of a task differ and the
reply cache keeps each one apart; 0 leaves requests as they were.
"""

from __future__ import annotations

import contextvars
from typing import Any, Protocol, runtime_checkable

from fnforge.config import LLMSettings
from fnforge.engine.llm.replies import Reply, Usage

SEED_OFFSET: contextvars.ContextVar[int] = contextvars.ContextVar("fnforge_seed_offset", default=0)


@runtime_checkable
class ChatModel(Protocol):
    """A model client as agents use it: chat completions, the `[llm]` settings, counted usage."""

    settings: LLMSettings
    usage: Usage
    windows: dict[str, int]  # context windows learned from refusals, by model name (may stay empty)

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
        """One chat completion; raises the `llm.errors` kinds, never an SDK's own exception."""
        ...
