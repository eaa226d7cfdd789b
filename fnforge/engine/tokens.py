"""Counting tokens offline, so a prompt can be fitted to a model's context window before it is sent.

A request over the window costs a round trip and a refusal; a prompt cut blindly loses what
matters most. The engine therefore estimates a prompt's size itself. It never downloads a
tokenizer at run time (a run must work offline and replay exactly), so the count is a
conservative estimate from the UTF-8 length: one token per 3 bytes. Real tokenizers give
about 4 bytes per token for English and 3-3.5 for code, so the estimate errs on the side of
a smaller prompt; non-Latin text (2-3 bytes a character) is estimated at about a token per
character, which is what GPT-style tokenizers produce for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

BYTES_PER_TOKEN = 3
MESSAGE_OVERHEAD = 4  # role and separators of one chat message


def estimate_tokens(text: str) -> int:
    """A conservative token count of `text` (rounded up)."""
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def request_tokens(messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None) -> int:
    """The estimated prompt tokens of a chat request: every message (with the tool calls an
    assistant message carries) plus the tool schemas."""
    total = 0
    for m in messages:
        total += estimate_tokens(str(m.get("content") or "")) + MESSAGE_OVERHEAD
        if m.get("tool_calls"):
            total += estimate_tokens(json.dumps(m["tool_calls"], separators=(",", ":")))
    if tools:
        total += estimate_tokens(json.dumps(list(tools), separators=(",", ":")))
    return total
