"""The agent: how a function set is used on one task, in one of three modes.

- `tools`: native tool calling. The task rendered by its evaluator, the set's derived
  schemas as tools, each tool call run in the sandbox, results fed back, up to `max_turns`
  model turns; the final message is the output the evaluator extracts an answer from.
- `react`: the same tools through a Thought / Action / Observation text loop, for endpoints
  without tool calling (see `react.py`).
- `direct`: no agent model at all; the entry function of the set is called on the task's
  arguments in the sandbox and `str(value)` is the output (program-search tasks).

Every run returns a `Transcript` (events, output, error) and never raises for a failure of
the model or the functions: those are part of what the optimizer learns from. Only errors
of the setup itself (the endpoint refusing the key, an offline cache miss) propagate.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from importlib import resources
from typing import Any

from fnforge.config import Settings
from fnforge.engine.llm import LLMClient
from fnforge.engine.toolbox import Toolbox, error_of, sandbox_call
from fnforge.engine.transcripts import Transcript


def prompt_file(name: str) -> str:
    """A prompt template shipped beside the code (prompts/<name>)."""
    return resources.files("fnforge.engine").joinpath("prompts", name).read_text(encoding="utf-8")


class Agent(ABC):
    """Runs one function set on one task and reports what happened."""

    mode: str = ""

    @abstractmethod
    async def run(self, task: Any) -> Transcript:
        """Solve `task`; failures of the model or the functions are recorded, not raised."""


class ModelAgent(Agent):
    """An agent that asks a model and runs the tools it calls: the tools and react modes."""

    def __init__(self, llm: LLMClient, toolbox: Toolbox, evaluator: Any, max_turns: int):
        self.llm = llm
        self.toolbox = toolbox
        self.evaluator = evaluator
        self.max_turns = max_turns
        self.system = self.system_prompt()

    @abstractmethod
    def system_prompt(self) -> str:
        """The system message of this mode."""

    def start(self, task: Any) -> tuple[Transcript, list[dict[str, Any]]]:
        """A task's transcript and opening messages: the mode's system prompt and the rendered task."""
        tr = Transcript(task_id=str(task.id), mode=self.mode)
        question = self.evaluator.render(task)
        tr.add("task", text=question)
        return tr, [{"role": "system", "content": self.system}, {"role": "user", "content": question}]


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
            reply = await self.llm.chat(messages, tools=tools)
            tr.turns = turn + 1
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
    settings: Settings, functions: Mapping[str, str], *, llm: LLMClient | None, pool: Any, evaluator: Any
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
        from fnforge.engine.react import ReactAgent

        return ReactAgent(llm, toolbox, evaluator, settings.agent.max_turns)
    return ToolsAgent(llm, toolbox, evaluator, settings.agent.max_turns)
