"""What every agent mode shares: the `Agent` interface and the model-driven base of tools and react.

It sits below both loops (`agent.ToolsAgent`, `react.ReactAgent`) so that neither imports
the other; the factory that picks a mode (`agent.make_agent`) lives beside the subclasses.

A real model is not a script, and a task's run must survive what it does: a request the
endpoint refuses (HTTP 400) fails that task with the provider's message (reason `refused`,
or `context` when the conversation outgrew the window), and a reply cut at `max_tokens`
is a wrong answer with reason `truncated`; neither ends the evaluation or the run. When a
refusal taught the client the model's real window (smaller than `[llm] context_tokens`), a
turn's reply limit shrinks to what the window leaves, instead of the task failing on it.

One refusal does end the run, as a setup error: a server that refuses the `tools` field
cannot run the `tools` mode at all, and the one-line error says to set `[agent] mode = "react"`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from fnforge.engine.llm import ChatModel, LLMContextLength, LLMError, LLMRefused, LLMToolsRefused, Reply
from fnforge.engine.tokens import request_tokens
from fnforge.engine.toolbox import Toolbox
from fnforge.engine.transcripts import Transcript

MIN_REPLY_TOKENS = 16  # the least reply room worth asking for in a learned window


def tools_unsupported(base_url: str, provider_message: str) -> LLMError:
    """The setup error for a `tools` mode agent against a server without tool calling."""
    return LLMError(
        f"LLM endpoint {base_url} refuses the `tools` field ({provider_message}): this server or model "
        'cannot call tools; set [agent] mode = "react" in fnforge.toml (the tools are then described in '
        "text) or serve a model with tool calling"
    )


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
        limit = self.reply_limit(tr, size)
        if limit is None:
            return None
        if limit != settings.max_tokens:
            kw["max_tokens"] = limit
        try:
            reply = await self.llm.chat(messages, **kw)
        except LLMContextLength as e:
            _fail(tr, "context", f"the endpoint refused the conversation as too long: {e.provider_message}")
            return None
        except LLMToolsRefused as e:
            raise tools_unsupported(settings.base_url, e.provider_message) from None
        except LLMRefused as e:
            _fail(tr, "refused", f"the endpoint refused the request: {e.provider_message}")
            return None
        if reply.cut:
            tr.add("assistant", content=reply.content, tool_calls=len(reply.tool_calls), cut=True)
            _fail(tr, "truncated", f"the reply was cut at max_tokens = {limit}")
            return None
        return reply

    def reply_limit(self, tr: Transcript, size: int) -> int | None:
        """This turn's max_tokens for a conversation of ~`size` tokens, or None after failing the task.

        In the configured window the reply limit is `[llm] max_tokens` and a conversation that
        leaves it no room fails; in a window learned from a refusal the limit shrinks to fit.
        """
        settings = self.llm.settings
        learned = self.llm.windows.get(settings.model)
        if learned is not None and learned < settings.context_tokens:
            room = learned - size
            if room < MIN_REPLY_TOKENS:
                _fail(
                    tr,
                    "context",
                    f"the conversation (~{size} tokens) leaves no room for a reply in the model's context "
                    f"window of {learned} tokens (stated by the endpoint)",
                )
                return None
            return min(settings.max_tokens, room)
        if size + settings.max_tokens > settings.context_tokens:
            _fail(
                tr,
                "context",
                f"the conversation (~{size} tokens) and the reply limit ({settings.max_tokens}) exceed "
                f"[llm] context_tokens = {settings.context_tokens}",
            )
            return None
        return settings.max_tokens
