"""The one door to language models: an async OpenAI-compatible client with a replay cache.

Small modules, one job each; only `client.py` imports the `openai` SDK:

- `errors.py`: the failures a caller can act on (`LLMError` and its kinds);
- `replies.py`: `Reply`, `ToolCall` and `Usage`, plain data with no SDK in them;
- `refusals.py`: what a provider's 400 says (the context window it states, a refused `tools` field);
- `cache.py`: the reply cache on disk, keyed by the request's hash (`cache_dir`, `request_key`);
- `chat_model.py`: `ChatModel`, what agents need of a client, and `SEED_OFFSET`;
- `client.py`: `LLMClient`, retries, rate-limit waits, the SDK's errors mapped to ours.

The names other modules use are re-exported here: `from fnforge.engine.llm import LLMClient`.
"""

from __future__ import annotations

from fnforge.engine.llm.cache import CACHE_FORMAT, ReplyCache, cache_dir, request_key
from fnforge.engine.llm.chat_model import SEED_OFFSET, ChatModel
from fnforge.engine.llm.client import LLMClient
from fnforge.engine.llm.errors import (
    REFUSAL_CONTEXT,
    REFUSAL_OTHER,
    REFUSAL_TOOLS,
    LLMCacheMiss,
    LLMContextLength,
    LLMError,
    LLMRefused,
    LLMToolsRefused,
    LLMUnavailable,
)
from fnforge.engine.llm.replies import Reply, ToolCall, Usage

__all__ = [
    "CACHE_FORMAT",
    "REFUSAL_CONTEXT",
    "REFUSAL_OTHER",
    "REFUSAL_TOOLS",
    "SEED_OFFSET",
    "ChatModel",
    "LLMCacheMiss",
    "LLMClient",
    "LLMContextLength",
    "LLMError",
    "LLMRefused",
    "LLMToolsRefused",
    "LLMUnavailable",
    "Reply",
    "ReplyCache",
    "ToolCall",
    "Usage",
    "cache_dir",
    "request_key",
]
