"""The ReAct text loop (Thought / Action / Action Input / Observation), for endpoints without tools.

As in the seed paper's ReAct agent: the tools are described in the system prompt, the model
writes a Thought and an Action with a JSON Action Input, generation stops before it can
invent an Observation, the tool runs in the sandbox, and its result comes back as the
Observation. `Final Answer:` ends the run; text with neither is taken as the answer.
"""

from __future__ import annotations

import re
import time
from string import Template
from typing import Any

from fnforge.engine.agent_base import ModelAgent
from fnforge.engine.prompt_files import prompt_file
from fnforge.engine.transcripts import Transcript

_FINAL = re.compile(r"Final Answer\s*:\s*(.*)", re.S | re.I)
_ACTION = re.compile(r"Action\s*:\s*`?([A-Za-z_][\w]*)`?\s*\n+\s*Action Input\s*:\s*(.*)", re.S | re.I)
STOP = ["\nObservation:"]


def parse_step(text: str) -> tuple[str, str, str]:
    """Classify a model turn: ("final", answer, ""), ("action", tool, input) or ("text", text, "")."""
    action = _ACTION.search(text)
    final = _FINAL.search(text)
    if final and (not action or final.start() < action.start()):
        return "final", final.group(1).strip(), ""
    if action:
        raw = action.group(2).strip()
        raw = raw.split("\nObservation", 1)[0].strip()
        if raw.startswith("```"):
            raw = raw.strip("`").removeprefix("json").strip()
        return "action", action.group(1), raw
    return "text", text.strip(), ""


class ReactAgent(ModelAgent):
    """Thought / Action / Observation over plain chat completions."""

    mode = "react"

    def system_prompt(self) -> str:
        """The system message: the ReAct format and the tools described in text."""
        return (
            Template(prompt_file("agent_react.txt"))
            .safe_substitute(tools=self.toolbox.describe(), names=", ".join(self.toolbox.names))
            .strip()
        )

    async def run(self, task: Any) -> Transcript:
        t0 = time.perf_counter()
        tr, messages = self.start(task)
        for turn in range(self.max_turns):
            tr.turns = turn + 1
            reply = await self.ask(tr, messages, stop=STOP)
            if reply is None:
                break
            text = (reply.content or "").split("\nObservation:", 1)[0]
            tr.add("assistant", content=text)
            kind, a, b = parse_step(text)
            if kind == "final":
                tr.output = a
                break
            if kind == "text":
                tr.output = a
                break
            tr.add("tool_call", name=a, arguments=b)
            content, event = await self.toolbox.call(a, b)
            tr.add(**event)
            messages.append({"role": "assistant", "content": text})
            messages.append({"role": "user", "content": f"Observation: {content}"})
        else:
            tr.error = f"no Final Answer within max_turns={self.max_turns}"
            tr.add("error", message=tr.error)
        tr.duration_s = round(time.perf_counter() - t0, 4)
        return tr
