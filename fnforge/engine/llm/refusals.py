"""What a provider's refusal (HTTP 400) says, read from its JSON error body: fields first, then text.

Local servers and hosted APIs refuse for the same few reasons in different words, and two of
them change what the engine should do next rather than only what it records:

- **the context window**: a prompt that, with its reply limit, exceeds the model's window.
  OpenAI marks it with `code: "context_length_exceeded"`; llama.cpp's C++ server with
  `type: "exceed_context_size_error"` and the window itself as `n_ctx`; OpenAI, vLLM and
  llama-cpp-python's server all state it in the message as "maximum context length is N
  tokens". `stated_window` reads N (fields first, then the text), so the engine can fit the
  rest of the run to the window the server really has instead of being refused again;
- **the `tools` field**: a server or model without tool calling (Ollama: "<model> does not
  support tools"; vLLM without `--enable-auto-tool-choice`; llama.cpp without `--jinja`; OpenAI's
  `param: "tools"`). Asking again cannot help; the agent must use `[agent] mode = "react"` and
  the optimizer `[llm] optimizer_protocol = "json"` (or `"auto"`).

Pure functions of the parsed body, so the client, its cache and the tests read refusals alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fnforge.engine.llm.errors import REFUSAL_CONTEXT, REFUSAL_OTHER, REFUSAL_TOOLS

CONTEXT_CODES = {"context_length_exceeded"}
CONTEXT_TYPES = {"exceed_context_size_error"}
_CONTEXT_PHRASES = (
    "context length",
    "context_length",
    "context window",
    "context size",
    "maximum context",
    "too many tokens",
)
_WINDOW_TEXT = (
    re.compile(r"maximum context length is (\d+)\s*tokens", re.I),  # OpenAI, vLLM, llama-cpp-python
    re.compile(r"available context size \((\d+)\s*tokens\)", re.I),  # llama.cpp's C++ server
    re.compile(r"context (?:window|length|size) (?:is|of) (\d+)\s*tokens", re.I),
)
_TOOLS_TEXT = re.compile(
    r"does not support tools|tools? (?:are |is )?not supported|unsupported parameter:? '?tools"
    r"|tool choice requires|tools param requires|does not support (?:function|tool) call",
    re.I,
)


@dataclass(frozen=True)
class Refusal:
    """A 400 as the engine sorts it: its message, kind and, for context length, the stated window."""

    message: str
    kind: str  # REFUSAL_CONTEXT, REFUSAL_TOOLS or REFUSAL_OTHER
    window: int | None = None  # the model's context window in tokens, when the refusal states it


def error_fields(body: Any) -> dict[str, Any]:
    """The provider's error object (`{"error": {...}}`, or the body itself when it is flat)."""
    if not isinstance(body, dict):
        return {}
    err = body.get("error", body)
    return err if isinstance(err, dict) else {"message": str(err)}


def is_context_length(fields: dict[str, Any], message: str) -> bool:
    """A refusal for a prompt too long: the code or type field, else the wording servers use."""
    if fields.get("code") in CONTEXT_CODES or fields.get("type") in CONTEXT_TYPES:
        return True
    return any(p in message.lower() for p in _CONTEXT_PHRASES)


def stated_window(fields: dict[str, Any], message: str) -> int | None:
    """The context window a refusal states (a field such as llama.cpp's `n_ctx`, then the text)."""
    for key in ("n_ctx", "context_length", "max_context_length"):
        value = fields.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    for pattern in _WINDOW_TEXT:
        found = pattern.search(message)
        if found:
            return int(found.group(1))
    return None


def refuses_tools(fields: dict[str, Any], message: str) -> bool:
    """A refusal of the request's `tools` field (the server or model cannot call tools)."""
    if fields.get("param") == "tools" and fields.get("code") in ("unsupported_parameter", None):
        return True
    return bool(_TOOLS_TEXT.search(message))


def read_refusal(body: Any, message: str, code: Any = None) -> Refusal:
    """Sort a 400 by its error body (fields first) and message; `code` is the SDK's own reading."""
    fields = dict(error_fields(body))
    if code is not None and "code" not in fields:
        fields["code"] = code
    if is_context_length(fields, message):
        return Refusal(message, REFUSAL_CONTEXT, stated_window(fields, message))
    if refuses_tools(fields, message):
        return Refusal(message, REFUSAL_TOOLS)
    return Refusal(message, REFUSAL_OTHER)
