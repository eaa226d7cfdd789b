"""The AgentOptimizer: turns what the agent did into proposed edits of its function set.

As in the seed paper, the optimizer is itself an LLM prompted with the task, the current
functions' code, the earlier steps (what was tried, the scores, and why rejected edits were
rejected) and sampled transcripts of failures and successes; it answers with tool calls
`add_function`, `revise_function` and `remove_function`, or `no_change` when it has nothing
to propose (a plain statement without tool calls counts the same): that step is recorded as
rejected with reason "no edit proposed" and counts toward patience.

A real optimizer model is not a script, and nothing it does may end a run:
- malformed output (bad JSON, an unknown tool, too many actions, code that does not parse) is
  answered with the error and asked again, up to `training.optimizer_retries` times, each
  re-ask hotter by `RETRY_HEAT` (the same temperature gives the same answer);
- a reply cut at `[llm] optimizer_max_tokens` (`finish_reason = "length"`) is never parsed as
  if whole: the re-ask asks for fewer or shorter edits, and if the last one is cut too, the
  step is rejected with reason "reply cut at N tokens";
- the prompt is fitted to the model's context window (see `optimizer_prompt`); a 400 for
  context length still shrinks it by half and asks once more; any other 400 (a filter, a
  schema) rejects the step with the provider's message;
- a re-ask is the prompt plus ONE message with the last error, replaced on each retry, so
  the conversation never grows.
After the retries the proposal carries the error and the trainer records the step as
rejected by gate "optimizer".

`ScriptedProposer` replays a reviewed list of edits (`[llm] scripted_edits`) behind the same
interface, so the demo and tests run the whole loop without an optimizer model.
"""

from __future__ import annotations

import ast
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnforge.config import Settings
from fnforge.engine.llm import SEED_OFFSET, LLMClient, LLMContextLength, LLMRefused, Reply
from fnforge.engine.optimizer_prompt import OptimizerContext, StepSummary, prompt_budget, render_prompt
from fnforge.engine.tokens import estimate_tokens

__all__ = [
    "OptimizerContext",
    "StepSummary",
    "render_prompt",
    "check_actions",
    "LLMOptimizer",
    "ScriptedProposer",
    "make_proposer",
]

NO_EDIT = "no edit proposed"
RETRY_HEAT = 0.3  # added to optimizer_temperature for each re-ask after an unusable reply


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
class Proposal:
    """The optimizer's answer: valid actions, or the error that made the step fail."""

    actions: list[Any] | None
    error: str | None = None
    attempts: int = 0
    exhausted: bool = False  # a scripted list has no more steps: the run ends, nothing is recorded
    errors: list[str] = field(default_factory=list)
    no_change: bool = False  # the optimizer said it has no edit (error is then NO_EDIT)
    prompt_tokens: int = 0  # the estimated size of the (last) prompt sent


class Proposer(ABC):
    """Proposes the next step's actions."""

    @abstractmethod
    async def propose(self, ctx: OptimizerContext) -> Proposal:
        """The actions for this step (never raises for malformed output)."""

    def has_step(self, position: int) -> bool:
        """Whether a step at this position of the run can be proposed (a script can run out)."""
        return True

    async def propose_many(self, ctx: OptimizerContext, k: int) -> list[Proposal]:
        """k proposals for one step (`[training] candidates`); a script has one per step."""
        return [await self.propose(ctx)]


def check_actions(raw: list[tuple[str, str]], functions: Mapping[str, str], max_actions: int) -> list[Any]:
    """Turn the optimizer's tool calls into actions, or raise ValueError saying what is wrong."""
    from fnforge.function_repo import parse_actions

    if not raw:
        raise ValueError("no edits: call add_function, revise_function or remove_function (or no_change)")
    if len(raw) > max_actions:
        raise ValueError(f"{len(raw)} edits proposed; at most {max_actions} are allowed per step")
    items = []
    for i, (name, arguments) in enumerate(raw):
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
    try:
        actions = parse_actions(items)
    except Exception as e:  # ActionError: names the item and field
        raise ValueError(str(e)) from None
    names = set(functions)
    for i, a in enumerate(actions):
        where = f"edit {i + 1} ({a.summary})"
        if a.action == "add_function" and a.name in names:
            raise ValueError(f"{where}: {a.name} exists already; use revise_function to change it")
        if a.action in ("revise_function", "remove_function") and a.name not in names:
            raise ValueError(f"{where}: there is no function {a.name} to {a.verb}")
        if a.action != "remove_function":
            try:
                ast.parse(a.code)
            except SyntaxError as e:
                raise ValueError(f"{where}: the code does not parse: {e.msg} (line {e.lineno})") from None
        if a.action == "add_function":
            names.add(a.name)
        elif a.action == "remove_function":
            names.discard(a.name)
    return actions


class LLMOptimizer(Proposer):
    """The AgentOptimizer backed by `[llm] optimizer_model`; see the module docstring for re-asks."""

    def __init__(self, llm: LLMClient, settings: Settings):
        self.llm = llm
        self.settings = settings

    async def propose_many(self, ctx: OptimizerContext, k: int) -> list[Proposal]:
        """k proposals: one request with `n = k` (the prompt paid once), each choice then parsed
        and re-asked on its own like a single proposal, its re-asks seeded `seed + i`.

        An endpoint that returns fewer choices gets the rest asked one by one (`LLMClient.choices`);
        a refusal of the shared request falls back to k separate proposals.
        """
        if k <= 1:
            return [await self.propose(ctx)]
        s, llm = self.settings, self.settings.llm
        prompt = render_prompt(ctx, s, budget_tokens=prompt_budget(s, OPTIMIZER_TOOLS))
        try:
            replies: list[Reply | None] = list(
                await self.llm.choices(
                    [{"role": "user", "content": prompt}],
                    n=k,
                    model=llm.optimizer_model,
                    tools=OPTIMIZER_TOOLS,
                    max_tokens=llm.optimizer_max_tokens,
                    temperature=llm.optimizer_temperature,  # the first attempt's, as in propose
                )
            )
        except LLMRefused:  # LLMContextLength too: each proposal shrinks or records it on its own
            replies = [None] * k
        out = []
        for i, reply in enumerate(replies):
            token = SEED_OFFSET.set(SEED_OFFSET.get() + i)
            try:
                out.append(await self.propose(ctx, first=reply))
            finally:
                SEED_OFFSET.reset(token)
        return out

    async def propose(self, ctx: OptimizerContext, first: Reply | None = None) -> Proposal:
        """One proposal; `first` is a reply already received for the first attempt (a choice of n)."""
        s, llm = self.settings, self.settings.llm
        max_actions = s.training.max_actions
        budget = prompt_budget(s, OPTIMIZER_TOOLS)
        prompt = render_prompt(ctx, s, budget_tokens=budget)
        errors: list[str] = []
        tries = 1 + s.training.optimizer_retries
        feedback: str | None = None  # the one re-ask message, replaced on each retry
        shrunk = False
        attempt = 0

        def done(error: str, **kw: Any) -> Proposal:
            return Proposal(
                None,
                error=error,
                attempts=attempt,
                errors=errors,
                prompt_tokens=estimate_tokens(prompt),
                **kw,
            )

        while attempt < tries:
            attempt += 1
            messages = [{"role": "user", "content": prompt}]
            if feedback is not None:
                messages.append({"role": "user", "content": feedback})
            heat = llm.optimizer_temperature + RETRY_HEAT * (attempt - 1)
            try:
                reply, first = (
                    first
                    or await self.llm.chat(
                        messages,
                        model=llm.optimizer_model,
                        tools=OPTIMIZER_TOOLS,
                        max_tokens=llm.optimizer_max_tokens,
                        temperature=round(min(max(1.0, llm.optimizer_temperature), heat), 3),
                    ),
                    None,
                )  # a choice given for the first attempt is used once
            except LLMContextLength as e:
                errors.append(f"prompt over the context window: {e.provider_message}")
                if shrunk:
                    return done(f"prompt refused as too long even at half the budget: {e.provider_message}")
                shrunk = True
                budget = min(budget, estimate_tokens(prompt)) // 2  # half of what was refused
                prompt = render_prompt(ctx, s, budget_tokens=budget)
                attempt -= 1  # asking with a shorter prompt is not the model's fault
                continue
            except LLMRefused as e:
                errors.append(f"refused: {e.provider_message}")
                return done(f"request refused by the provider: {e.provider_message}")
            if reply.cut:
                errors.append(f"reply cut at {llm.optimizer_max_tokens} tokens")
                feedback = (
                    f"Your previous reply was cut off at the reply limit of {llm.optimizer_max_tokens} "
                    "tokens, so none of it could be used. Propose fewer or shorter edits (one edit "
                    "with a compact module is fine) so that the whole reply fits."
                )
                continue
            edits = [(c.name, c.arguments) for c in reply.tool_calls if c.name != "no_change"]
            if not edits and (reply.tool_calls or (reply.content or "").strip()):
                return done(NO_EDIT, no_change=True)  # no_change, or a plain statement
            try:
                actions = check_actions(edits, ctx.functions, max_actions)
                return Proposal(
                    actions, attempts=attempt, errors=errors, prompt_tokens=estimate_tokens(prompt)
                )
            except ValueError as e:
                errors.append(str(e))
            feedback = (
                f"Your edits could not be used: {errors[-1]}. Propose again, at most {max_actions} "
                "edits, as tool calls (or call no_change if you have no edit to propose)."
            )
        if errors[-1].startswith("reply cut at"):
            return done(errors[-1])
        return done(f"malformed optimizer output after {tries} attempts: {errors[-1]}")


class ScriptedProposer(Proposer):
    """Replays a reviewed JSON list of steps (each a list of actions) instead of asking a model."""

    def __init__(self, path: Path):
        from fnforge.function_repo import parse_actions

        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(
                f'[llm] scripted_edits: {self.path} not found; fix the path or set it to ""'
            ) from None
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{self.path}: not valid JSON ({e.msg}, line {e.lineno}); write a list of steps"
            ) from None
        if isinstance(data, dict) and "steps" in data:
            data = data["steps"]
        if not isinstance(data, list):
            raise ValueError(f"{self.path}: expected a JSON list of steps, each a list of actions")
        self.steps: list[list[Any] | str] = []
        for i, step in enumerate(data):
            # a step that the store cannot even parse stays in the script as its error text,
            # so the run records it as rejected instead of refusing the whole file
            try:
                actions = parse_actions(step)
                self.steps.append(actions if actions else f"scripted step {i + 1} has no actions")
            except Exception as e:  # noqa: BLE001 - ActionError
                self.steps.append(f"scripted step {i + 1}: {e}")

    def has_step(self, position: int) -> bool:
        return position < len(self.steps)

    async def propose(self, ctx: OptimizerContext) -> Proposal:
        if not self.has_step(ctx.position):
            return Proposal(None, error="scripted edits exhausted", exhausted=True)
        step = self.steps[ctx.position]
        if isinstance(step, str):
            return Proposal(None, error=step, attempts=1)
        return Proposal(list(step), attempts=1)


def make_proposer(settings: Settings, repo_root: Path, llm: LLMClient | None) -> Proposer:
    """The scripted proposer when `[llm] scripted_edits` names a file, else the LLM optimizer."""
    if settings.llm.scripted_edits:
        path = Path(settings.llm.scripted_edits)
        return ScriptedProposer(path if path.is_absolute() else Path(repo_root) / path)
    if llm is None:
        raise ValueError("the optimizer needs a model client, or set [llm] scripted_edits")
    return LLMOptimizer(llm, settings)
