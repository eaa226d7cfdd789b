"""The agent: how a function set is used on one task, in one of three modes.

- `tools`: native tool calling. The task rendered by its evaluator, the set's derived
  schemas as tools, each tool call run in the sandbox, results fed back, up to `max_turns`
  model turns; the final message is the output the evaluator extracts an answer from.
- `react`: the same tools through a Thought / Action / Observation text loop, for endpoints
  without tool calling (see `react.py`).
- `direct`: no agent model at all; the entry function of the set is called on the task's
  arguments in the sandbox and `str(value)` is the output (program-search tasks).

Every run returns a `Transcript` (events, output, error, reason) and never raises for a
failure of the model or the functions: those are part of what the optimizer learns from
(a refused request, a reply cut at max_tokens: see `agent_base`). A reply with prose and no
tool call is the final answer, as the tool-calling protocol says. Only errors of the setup
itself (the endpoint refusing the key, an offline cache miss) propagate.

The shared base classes live in `agent_base`, the ReAct loop in `react`; this module holds
the tools and direct loops and the factory that picks one, so nothing imports in a circle.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fnforge.config import Settings
from fnforge.engine.agent_base import Agent, ModelAgent
from fnforge.engine.llm import ChatModel
from fnforge.engine.prompt_files import prompt_file
from fnforge.engine.react import ReactAgent
from fnforge.engine.toolbox import Toolbox, error_of, sandbox_call
from fnforge.engine.transcripts import Transcript

__all__ = ["Agent", "ModelAgent", "ToolsAgent", "ReactAgent", "DirectAgent", "make_agent", "prompt_file"]


class ToolsAgent(ModelAgent):
    """The native tool-calling loop (OpenAI `tools` / `tool_calls`)."""

    mode = "tools"

    def system_prompt(self) -> str:
        """The system message: the tool-calling instructions."""
        return prompt_file("agent_tools.txt").strip()

    async def run(self, task: Any) -> Transcript:
        t0 = time.perf_counter()
        tr, messages = self.start(task)
        tools = self.toolbox.schemas or None
        for turn in range(self.max_turns):
            tr.turns = turn + 1
            reply = await self.ask(tr, messages, tools=tools)
            if reply is None:
                break
            tr.add("assistant", content=reply.content, tool_calls=len(reply.tool_calls))
            messages.append(reply.as_message())
            if not reply.tool_calls:
                tr.output = reply.content
                break
            for call in reply.tool_calls:
                tr.add("tool_call", name=call.name, arguments=call.arguments)
                content, event = await self.toolbox.call(call.name, call.arguments)
                tr.add(**event)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        else:
            tr.error = f"no final answer within max_turns={self.max_turns}"
            tr.reason = "max_turns"
            tr.add("error", message=tr.error)
        tr.duration_s = round(time.perf_counter() - t0, 4)
        return tr


class DirectAgent(Agent):
    """No model: the set's entry function is called on the evaluator's arguments for the task."""

    mode = "direct"

    def __init__(self, functions: Mapping[str, str], pool: Any, evaluator: Any, entry: str, timeout_s: float):
        self.functions = dict(functions)
        self.pool = pool
        self.evaluator = evaluator
        self.entry = entry
        self.timeout_s = timeout_s

    async def run(self, task: Any) -> Transcript:
        t0 = time.perf_counter()
        tr = Transcript(task_id=str(task.id), mode=self.mode)
        if self.entry not in self.functions:
            tr.error = f"the set has no entry function {self.entry!r} ([agent] entry in fnforge.toml)"
            tr.add("error", message=tr.error)
            return tr
        args = self.evaluator.direct_arguments(task)
        tr.add("tool_call", name=self.entry, arguments=args)
        result = await sandbox_call(self.pool, self.functions, self.entry, args, self.timeout_s)
        if result.ok:
            tr.output = str(result.value)
            tr.add("tool_result", name=self.entry, ok=True, content=tr.output[:2000])
        else:
            etype, emsg = error_of(result)
            tr.error = f"{etype}: {emsg}"
            tr.add("tool_result", name=self.entry, ok=False, content=tr.error[:2000])
        tr.duration_s = round(time.perf_counter() - t0, 4)
        return tr


def make_agent(
    settings: Settings, functions: Mapping[str, str], *, llm: ChatModel | None, pool: Any, evaluator: Any
) -> Agent:
    """The agent that `[agent] mode` asks for, using function set `functions`."""
    mode = settings.agent.mode
    if mode == "direct":
        return DirectAgent(functions, pool, evaluator, settings.agent.entry, settings.sandbox.timeout_s)
    if llm is None:
        raise ValueError(f"[agent] mode = {mode!r} needs a model client")
    toolbox = Toolbox(
        functions, pool, timeout_s=settings.sandbox.timeout_s, budget_chars=settings.agent.result_budget_chars
    )
    if mode == "react":
        return ReactAgent(llm, toolbox, evaluator, settings.agent.max_turns)
    return ToolsAgent(llm, toolbox, evaluator, settings.agent.max_turns)
