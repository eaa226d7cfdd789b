"""What every agent mode shares: the `Agent` interface and the model-driven base of tools and react.

It sits below both loops (`agent.ToolsAgent`, `react.ReactAgent`) so that neither imports
the other; the factory that picks a mode (`agent.make_agent`) lives beside the subclasses.

A real model is not a script, and a task's run must survive what it does: a request the
endpoint refuses (HTTP 400) fails that task with the provider's message (reason `refused`,
or `context` when the conversation outgrew the window), and a reply cut at `max_tokens`
is a wrong answer with reason `truncated`; neither ends the evaluation or the run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from fnforge.engine.llm import ChatModel, LLMContextLength, LLMRefused, Reply
from fnforge.engine.tokens import request_tokens
from fnforge.engine.toolbox import Toolbox
from fnforge.engine.transcripts import Transcript


class Agent(ABC):
    """Runs one function set on one task and reports what happened."""

    mode: str = ""

    @abstractmethod
    async def run(self, task: Any) -> Transcript:
        """Solve `task`; failures of the model or the functions are recorded, not raised."""


def _fail(tr: Transcript, reason: str, message: str) -> None:
    tr.reason = reason
    tr.error = message
    tr.output = None
    tr.add("error", message=message, reason=reason)


class ModelAgent(Agent):
    """An agent that asks a model and runs the tools it calls: the tools and react modes."""

    def __init__(self, llm: ChatModel, toolbox: Toolbox, evaluator: Any, max_turns: int):
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

    async def ask(self, tr: Transcript, messages: list[dict[str, Any]], **kw: Any) -> Reply | None:
        """One model turn, or None after recording why the task ends here (refused, over the
        context window, or cut at max_tokens)."""
        settings = self.llm.settings
        size = request_tokens(messages, kw.get("tools"))
        if size + settings.max_tokens > settings.context_tokens:
            _fail(
                tr,
                "context",
                f"the conversation (~{size} tokens) and the reply limit ({settings.max_tokens}) exceed "
                f"[llm] context_tokens = {settings.context_tokens}",
            )
            return None
        try:
            reply = await self.llm.chat(messages, **kw)
        except LLMContextLength as e:
            _fail(tr, "context", f"the endpoint refused the conversation as too long: {e.provider_message}")
            return None
        except LLMRefused as e:
            _fail(tr, "refused", f"the endpoint refused the request: {e.provider_message}")
            return None
        if reply.cut:
            tr.add("assistant", content=reply.content, tool_calls=len(reply.tool_calls), cut=True)
            _fail(tr, "truncated", f"the reply was cut at max_tokens = {settings.max_tokens}")
            return None
        return reply
