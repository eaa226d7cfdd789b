"""How the optimizer is asked for its edits and how its reply is read: tool calls, or JSON in text.

`[llm] optimizer_protocol` chooses:

- `tools`: the edits come back as tool calls `add_function`, `revise_function`,
  `remove_function` (or `no_change`); a reply with text and no tool call says "no edit";
- `json`: no `tools` field is sent; the prompt asks for ONE JSON list of action objects in a
  fenced block of the reply, the same list `fnforge apply` takes (read with
  `function_repo.parse_actions` downstream); `[]` says "no edit". For servers and models
  without tool calling, which many local ones are;
- `auto`: `tools` first; after a reply with text but no tool call the same step asks once more
  in `json`, and a server that refuses the `tools` field is asked in `json` for the rest of the
  run. The optimizer records each switch in the step's note.

A protocol turns a reply into *items* (plain action objects) or says "no edit"; a reply it
cannot read raises ValueError with what is wrong, which the optimizer answers with a re-ask
and finally records as a rejection, exactly like a malformed tool call. Checking the items
against the set (exists already, does not parse, too many) is the optimizer's, whatever the
protocol.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from fnforge.engine.prompt_files import prompt_file

TOOLS = "tools"
JSON = "json"
AUTO = "auto"


def _function_fields(code_description: str) -> dict[str, Any]:
    """The fields of an added or revised function, as `fnforge apply` takes them."""
    return {
        "name": {"type": "string", "description": "The function's name (a Python identifier)."},
        "description": {"type": "string", "description": "What it does, for the agent."},
        "arguments": {"type": "object", "description": "JSON schema of its parameters."},
        "packages": {"type": "array", "items": {"type": "string"}, "description": "Third-party packages."},
        "code": {"type": "string", "description": code_description},
        "tests": {"type": "string", "description": "Optional property tests (tests/test_<name>.py)."},
    }


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


OPTIMIZER_TOOLS: list[dict[str, Any]] = [
    _tool(
        "add_function",
        "Add a new function to the agent's set.",
        _function_fields("The full module source defining the function."),
        ["name", "description", "code"],
    ),
    _tool(
        "revise_function",
        "Replace an existing function of the set with a new version.",
        _function_fields("The full new module source."),
        ["name", "code"],
    ),
    _tool(
        "remove_function",
        "Remove a function from the set.",
        {"name": {"type": "string", "description": "The function's name."}},
        ["name"],
    ),
    _tool(
        "no_change",
        "Say that you have no edit to propose for this step (instead of any other tool).",
        {"reason": {"type": "string", "description": "Why no edit would help now."}},
        ["reason"],
    ),
]
EDIT_TOOLS = ["add_function", "revise_function", "remove_function"]
TOOL_NAMES = [t["function"]["name"] for t in OPTIMIZER_TOOLS]


@dataclass
class Answer:
    """A reply as a protocol reads it: the edits as action objects, or "no edit"."""

    items: list[dict[str, Any]] = field(default_factory=list)
    no_change: bool = False
    prose_only: bool = False  # text and no tool call (what `auto` answers by asking in json)


def items_from_calls(calls: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Tool calls (name, raw JSON arguments) as action objects; ValueError names a bad call."""
    items = []
    for i, (name, arguments) in enumerate(calls):
        if name not in EDIT_TOOLS:
            raise ValueError(f"edit {i + 1}: unknown tool {name!r}; use one of {', '.join(TOOL_NAMES)}")
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(
                f"edit {i + 1} ({name}): arguments are not valid JSON ({e.msg} at char {e.pos})"
            ) from None
        if not isinstance(args, dict):
            raise ValueError(f"edit {i + 1} ({name}): arguments must be a JSON object")
        items.append({**args, "action": name})
    return items


class ActionProtocol(ABC):
    """One way of asking the optimizer for edits: what the request carries and how a reply reads."""

    name: str = ""

    @property
    @abstractmethod
    def tools(self) -> list[dict[str, Any]] | None:
        """The request's `tools` field (None: the request sends none)."""

    @abstractmethod
    def answer_format(self) -> str:
        """The prompt's closing paragraph: how to write the edits, and how to say there is none."""

    @abstractmethod
    def read(self, reply: Any) -> Answer:
        """The edits of a reply (`llm.Reply`); ValueError says what makes it unusable."""

    @abstractmethod
    def reask(self, error: str, max_actions: int) -> str:
        """The one re-ask message after an unusable reply."""


class ToolCallProtocol(ActionProtocol):
    """Edits as tool calls; text without a tool call means "no edit"."""

    name = TOOLS

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        return OPTIMIZER_TOOLS

    def answer_format(self) -> str:
        return prompt_file("optimizer_answer_tools.txt").strip()

    def read(self, reply: Any) -> Answer:
        calls = list(reply.tool_calls)
        edits = [(c.name, c.arguments) for c in calls if c.name != "no_change"]
        if not edits:
            if calls:
                return Answer(no_change=True)
            if (reply.content or "").strip():
                return Answer(no_change=True, prose_only=True)
            raise ValueError("no edits: call add_function, revise_function or remove_function (or no_change)")
        return Answer(items=items_from_calls(edits))

    def reask(self, error: str, max_actions: int) -> str:
        return (
            f"Your edits could not be used: {error}. Propose again, at most {max_actions} "
            "edits, as tool calls (or call no_change if you have no edit to propose)."
        )


_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.S)


def json_block(text: str) -> str:
    """The JSON text of a reply: its last fenced block, else the reply itself when it is bare JSON."""
    blocks = [b.strip() for b in _FENCE.findall(text)]
    blocks = [b for b in blocks if b]
    if blocks:
        return blocks[-1]
    bare = text.strip()
    if bare.startswith(("[", "{")):
        return bare
    raise ValueError(
        "no ```json block in the reply: write the edits as one JSON list in a fenced block "
        "(an empty list [] for no edit)"
    )


class JsonListProtocol(ActionProtocol):
    """Edits as one JSON list of action objects in a fenced block of the reply; `[]` means "no edit"."""

    name = JSON

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        return None

    def answer_format(self) -> str:
        return prompt_file("optimizer_answer_json.txt").strip()

    def read(self, reply: Any) -> Answer:
        text = json_block(reply.content or "")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"the JSON block is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
            ) from None
        if isinstance(data, dict) and "actions" in data:
            data = data["actions"]
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise ValueError(f"the JSON block holds a {type(data).__name__}; write a list of edit objects")
        if not data:
            return Answer(no_change=True)
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise ValueError(f"edit {i + 1}: expected an object with action, name and code")
        return Answer(items=[dict(item) for item in data])

    def reask(self, error: str, max_actions: int) -> str:
        return (
            f"Your edits could not be used: {error}. Propose again, at most {max_actions} edits, "
            "as one JSON list in a ```json block (or an empty list [] if you have no edit to propose)."
        )


def protocol_named(name: str) -> ActionProtocol:
    """The protocol a step starts with: `json` for json, tool calls for `tools` and `auto`."""
    return JsonListProtocol() if name == JSON else ToolCallProtocol()
