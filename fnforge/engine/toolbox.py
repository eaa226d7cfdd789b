"""A function set seen as tools: their schemas for the model, and sandboxed calls.

Both agent loops (native tool calls and ReAct text) offer the same tools and execute them
the same way: arguments parsed from the model's JSON, the call run in the sandbox pool with
the configured timeout (from a worker thread, so many tasks can wait at once), the result
or error turned into text and cut to the result budget. Anything the model gets wrong (an
unknown tool, arguments that are not a JSON object) becomes an error message it can read,
never an exception.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any


def error_of(result: Any) -> tuple[str, str]:
    """(type, message) of a failed CallResult, whether its error is a model or a dict."""
    err = result.error or {}
    if isinstance(err, dict):
        return str(err.get("type", "Error")), str(err.get("message", ""))
    return str(getattr(err, "type", "Error")), str(getattr(err, "message", ""))


async def sandbox_call(
    pool: Any, functions: Mapping[str, str], name: str, args: dict, timeout_s: float
) -> Any:
    """One call in the sandbox pool from a worker thread, repeated (twice at most) when the
    sandbox failed before the function started (`CallResult.retryable`): repeating it keeps a
    run's scores, and so its decisions, independent of machine load."""
    result = None
    for _ in range(3):
        result = await asyncio.to_thread(pool.call, functions, name, args, timeout_s)
        if result.ok or not result.retryable:
            break
    return result


def truncate(text: str, budget: int) -> str:
    """Cut a tool result to `budget` characters, saying how much was dropped."""
    if len(text) <= budget:
        return text
    marker = f"... [truncated {len(text) - budget} chars]"
    return text[: max(0, budget - len(marker))] + marker


class Toolbox:
    """The tools of one function set for one agent run (shared by all tasks of an evaluation)."""

    def __init__(self, functions: Mapping[str, str], pool: Any, *, timeout_s: float, budget_chars: int):
        from fnforge.function_repo import tool_schema

        self.functions = dict(functions)
        self.pool = pool
        self.timeout_s = timeout_s
        self.budget_chars = budget_chars
        self.schemas: list[dict[str, Any]] = []
        self.broken: dict[str, str] = {}
        for name in sorted(self.functions):
            try:
                self.schemas.append(tool_schema(self.functions[name]))
            except Exception as exc:  # noqa: BLE001 - a function without a schema is not offered
                self.broken[name] = f"{type(exc).__name__}: {exc}"
        self.names = [s["function"]["name"] for s in self.schemas]

    def describe(self) -> str:
        """The tools as text, for the ReAct prompt (name, description, JSON parameters)."""
        lines = []
        for s in self.schemas:
            f = s["function"]
            params = json.dumps(f.get("parameters", {}), sort_keys=True)
            lines.append(f"- {f['name']}: {f.get('description', '').strip()}\n  parameters: {params}")
        return "\n".join(lines) if lines else "(no tools)"

    async def call(self, name: str, raw_arguments: Any) -> tuple[str, dict[str, Any]]:
        """Run one tool call; returns the text the model sees and an event for the transcript."""
        if name not in self.names:
            known = ", ".join(self.names) or "none"
            msg = f"error: unknown tool {name!r}; the tools are: {known}"
            return msg, {"kind": "tool_result", "name": name, "ok": False, "content": msg}
        args = raw_arguments
        if isinstance(raw_arguments, str):
            try:
                args = json.loads(raw_arguments) if raw_arguments.strip() else {}
            except json.JSONDecodeError as exc:
                msg = f"error: arguments for {name} are not valid JSON ({exc.msg}); send a JSON object"
                return msg, {"kind": "tool_result", "name": name, "ok": False, "content": msg}
        if not isinstance(args, dict):
            msg = f"error: arguments for {name} must be a JSON object of parameter names to values"
            return msg, {"kind": "tool_result", "name": name, "ok": False, "content": msg}
        result = await sandbox_call(self.pool, self.functions, name, args, self.timeout_s)
        if result.ok:
            content = json.dumps(result.value, ensure_ascii=False)
        else:
            etype, emsg = error_of(result)
            content = f"error: {etype}: {emsg}"
        content = truncate(content, self.budget_chars)
        event = {
            "kind": "tool_result",
            "name": name,
            "ok": bool(result.ok),
            "content": content,
            "stdout": truncate(result.stdout or "", 500),
            "duration_s": round(result.duration_s, 4),
        }
        return content, event
