"""What a model call returns and what model calls cost: `Reply`, its `ToolCall`s, and `Usage`.

Plain dataclasses with no SDK in them, so the reply cache stores them as JSON, the Ray relay
ships them between processes, and the trainer diffs `Usage` snapshots per step. Tokens and
cost come from the settings' price table; replies served from the cache count as
`cached_tokens` and cost nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
    refusal_kind: str | None = None  # REFUSAL_CONTEXT, REFUSAL_TOOLS or REFUSAL_OTHER
    window: int | None = None  # the context window a context-length refusal states, in tokens
    # a request with `n` > 1: the other choices (their tokens are counted in this one's)
    more: list[Reply] = field(default_factory=list)

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
            window=d.get("window"),
            more=[cls.from_dict(m) for m in d.get("more") or []],
        )
