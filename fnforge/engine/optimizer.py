"""The AgentOptimizer: turns what the agent did into proposed edits of its function set.

As in the seed paper, the optimizer is itself an LLM prompted with the task, the current
functions' code, the earlier steps (what was tried, the scores, and why rejected edits were
rejected) and sampled transcripts of failures and successes; it answers with tool calls
`add_function`, `revise_function` and `remove_function`, or `no_change` when it has nothing
to propose (a plain statement without tool calls counts the same): that step is recorded as
rejected with reason "no edit proposed" and counts toward patience. How the edits are asked
for and read is a protocol object (`optimizer_protocol`: tool calls, or one JSON list in the
reply's text for models without tool calling; `auto` switches from the first to the second
within a step and records why in `Proposal.protocol_switch`). Whatever the protocol, the edits
are `fnforge apply`'s action objects, checked here against the set (`check_items`).

A real optimizer model is not a script, and nothing it does may end a run:
- malformed output (bad JSON, an unknown tool, too many actions, code that does not parse) is
  answered with the error and asked again, up to `training.optimizer_retries` times, each
  re-ask hotter by `RETRY_HEAT` (the same temperature gives the same answer);
- a reply cut at `[llm] optimizer_max_tokens` (`finish_reason = "length"`) is never parsed as
  if whole: the re-ask asks for fewer or shorter edits, and if the last one is cut too, the
  step is rejected with reason "reply cut at N tokens";
- the prompt is fitted to the model's context window (see `optimizer_prompt`); a 400 for
  context length that states the model's real window ("maximum context length is N tokens")
  refits the prompt and the reply limit to N, for this step and, through the client, every
  later one (and the replay, which meets the same cached refusal); one that states none
  shrinks the prompt by half and asks once more; any other 400 (a filter, a schema) rejects
  the step with the provider's message, and a refused `tools` field switches `auto` to json
  or stops a `tools` run with what to set;
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fnforge.config import Settings
from fnforge.engine.llm import (
    SEED_OFFSET,
    LLMClient,
    LLMContextLength,
    LLMError,
    LLMRefused,
    LLMToolsRefused,
    Reply,
)
from fnforge.engine.optimizer_prompt import (
    OptimizerContext,
    PromptFit,
    StepSummary,
    prompt_fit,
    render_prompt,
)
from fnforge.engine.optimizer_protocol import (
    AUTO,
    EDIT_TOOLS,
    OPTIMIZER_TOOLS,
    TOOL_NAMES,
    TOOLS,
    ActionProtocol,
    JsonListProtocol,
    items_from_calls,
    protocol_named,
)
from fnforge.engine.tokens import estimate_tokens

__all__ = [
    "OptimizerContext",
    "StepSummary",
    "render_prompt",
    "check_actions",
    "check_items",
    "LLMOptimizer",
    "ScriptedProposer",
    "make_proposer",
    "OPTIMIZER_TOOLS",
    "EDIT_TOOLS",
    "TOOL_NAMES",
]

NO_EDIT = "no edit proposed"
RETRY_HEAT = 0.3  # added to optimizer_temperature for each re-ask after an unusable reply


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
    cut: bool = False  # the last reply was cut at the reply limit (error then says so)
    protocol: str = ""  # how the (last) reply was asked for: tools or json (empty: scripted)
    protocol_switch: str | None = None  # auto: why this step went from tools to json

    def note(self) -> dict[str, Any]:
        """The step note's `optimizer` entry: attempts, errors, prompt size, and how it was asked."""
        out: dict[str, Any] = {
            "attempts": self.attempts,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
        }
        if self.protocol:
            out["protocol"] = self.protocol
        if self.protocol_switch:
            out["protocol_switch"] = self.protocol_switch
        return out


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
    if not raw:
        raise ValueError("no edits: call add_function, revise_function or remove_function (or no_change)")
    if len(raw) > max_actions:
        raise ValueError(f"{len(raw)} edits proposed; at most {max_actions} are allowed per step")
    return check_items(items_from_calls(raw), functions, max_actions)


def check_items(items: list[dict[str, Any]], functions: Mapping[str, str], max_actions: int) -> list[Any]:
    """Turn action objects (from tool calls or a JSON list) into actions checked against the set.

    The objects are read by `fnforge apply`'s own parser; then each edit must fit the set as
    the earlier edits of the same step leave it, and its code must parse. ValueError says what
    is wrong, naming the edit.
    """
    from fnforge.function_repo import parse_actions

    if not items:
        raise ValueError("no edits: propose add_function, revise_function or remove_function edits")
    if len(items) > max_actions:
        raise ValueError(f"{len(items)} edits proposed; at most {max_actions} are allowed per step")
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


class _Asking:
    """One step's conversation with the optimizer: its protocol, the window it fits, the re-ask."""

    def __init__(self, ctx: OptimizerContext, settings: Settings, protocol: ActionProtocol, window: int):
        self.ctx = ctx
        self.settings = settings
        self.window = window
        self.errors: list[str] = []
        self.feedback: str | None = None  # the one re-ask message, replaced on each retry
        self.attempt = 0
        self.shrunk = False  # refitted once after a context-length refusal
        self.learned = False  # ... to a window that the refusal stated
        self.switch: str | None = None
        self.use(protocol)

    def use(self, protocol: ActionProtocol) -> None:
        """Ask with `protocol` from now on: its tools, its answer format, a prompt fitted to them."""
        self.protocol = protocol
        self.fit: PromptFit = prompt_fit(self.settings, protocol.tools, self.window)
        self.feedback = None
        self.render()

    def render(self) -> None:
        self.prompt = render_prompt(
            self.ctx,
            self.settings,
            budget_tokens=self.fit.budget_tokens,
            answer_format=self.protocol.answer_format(),
        )

    def messages(self) -> list[dict[str, Any]]:
        messages = [{"role": "user", "content": self.prompt}]
        if self.feedback is not None:
            messages.append({"role": "user", "content": self.feedback})
        return messages

    def refit(self, refused: LLMContextLength) -> str | None:
        """Fit the prompt after a context-length refusal; the step's failure when nothing is left to try.

        A refusal that states a smaller window than the one fitted refits to it (the client has
        learned it for the rest of the run); one that does not halves the prompt's budget. Either
        is tried once: a prompt refused after it is as small as the step can make it.
        """
        if refused.window is not None and refused.window < self.fit.window:
            self.window = refused.window
            self.fit = prompt_fit(self.settings, self.protocol.tools, self.window)
        elif self.shrunk:
            fitted = (
                f"fitted to the stated window of {self.window} tokens"
                if self.learned
                else "at half the budget"
            )
            return f"prompt refused as too long even {fitted}: {refused.provider_message}"
        else:
            budget = (
                min(self.fit.budget_tokens, estimate_tokens(self.prompt)) // 2
            )  # half of what was refused
            self.fit = replace(self.fit, budget_tokens=budget)
        self.learned = refused.window is not None and refused.window <= self.window
        self.shrunk = True
        self.render()
        return None

    def proposal(self, actions: list[Any] | None, error: str | None = None, **kw: Any) -> Proposal:
        return Proposal(
            actions,
            error=error,
            attempts=self.attempt,
            errors=self.errors,
            prompt_tokens=estimate_tokens(self.prompt),
            protocol=self.protocol.name,
            protocol_switch=self.switch,
            **kw,
        )


class LLMOptimizer(Proposer):
    """The AgentOptimizer backed by `[llm] optimizer_model`; see the module docstring for re-asks."""

    def __init__(self, llm: LLMClient, settings: Settings):
        self.llm = llm
        self.settings = settings
        self.tools_refused = False  # auto: the endpoint refused the tools field; json for the rest of the run

    def _start(self, ctx: OptimizerContext) -> _Asking:
        llm = self.settings.llm
        protocol = protocol_named(llm.optimizer_protocol)
        if llm.optimizer_protocol == AUTO and self.tools_refused:
            protocol = JsonListProtocol()
        window = self.llm.window(llm.optimizer_model, llm.optimizer_context_tokens)
        return _Asking(ctx, self.settings, protocol, window)

    async def propose_many(self, ctx: OptimizerContext, k: int) -> list[Proposal]:
        """k proposals: one request with `n = k` (the prompt paid once), each choice then read and
        re-asked on its own like a single proposal, its re-asks seeded `seed + i`.

        An endpoint that returns fewer choices gets the rest asked one by one (`LLMClient.choices`);
        a refusal of the shared request falls back to k separate proposals.
        """
        if k <= 1:
            return [await self.propose(ctx)]
        ask = self._start(ctx)
        llm = self.settings.llm
        try:
            replies: list[Reply | None] = list(
                await self.llm.choices(
                    ask.messages(),
                    n=k,
                    model=llm.optimizer_model,
                    tools=ask.protocol.tools,
                    max_tokens=ask.fit.reply_tokens,
                    temperature=llm.optimizer_temperature,  # the first attempt's, as in propose
                )
            )
        except LLMRefused:  # a context or tools refusal too: each proposal handles it on its own
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
        ask = self._start(ctx)
        tries = 1 + s.training.optimizer_retries
        last_cut = False  # the last reply was cut at the reply limit
        while ask.attempt < tries:
            ask.attempt += 1
            heat = llm.optimizer_temperature + RETRY_HEAT * (ask.attempt - 1)
            try:
                reply, first = (
                    first
                    or await self.llm.chat(
                        ask.messages(),
                        model=llm.optimizer_model,
                        tools=ask.protocol.tools,
                        max_tokens=ask.fit.reply_tokens,
                        temperature=round(min(max(1.0, llm.optimizer_temperature), heat), 3),
                    ),
                    None,
                )  # a choice given for the first attempt is used once
            except LLMContextLength as e:
                ask.errors.append(f"prompt over the context window: {e.provider_message}")
                failure = ask.refit(e)
                if failure is not None:
                    return ask.proposal(None, failure)
                ask.attempt -= 1  # asking with a shorter prompt is not the model's fault
                continue
            except LLMToolsRefused as e:
                self._tools_refused(ask, e)
                continue
            except LLMRefused as e:
                ask.errors.append(f"refused: {e.provider_message}")
                return ask.proposal(None, f"request refused by the provider: {e.provider_message}")
            last_cut = reply.cut
            if reply.cut:
                limit = ask.fit.reply_tokens
                ask.errors.append(f"reply cut at {limit} tokens")
                ask.feedback = (
                    f"Your previous reply was cut off at the reply limit of {limit} "
                    "tokens, so none of it could be used. Propose fewer or shorter edits (one edit "
                    "with a compact module is fine) so that the whole reply fits."
                )
                continue
            try:
                answer = ask.protocol.read(reply)
                if answer.prose_only and llm.optimizer_protocol == AUTO and ask.switch is None:
                    ask.switch = "tools -> json: the reply had text and no tool call"
                    ask.use(JsonListProtocol())
                    ask.attempt -= 1  # asking once more in json is the protocol's, not a retry
                    continue
                if answer.no_change:
                    return ask.proposal(None, NO_EDIT, no_change=True)  # no_change, [], or a plain statement
                return ask.proposal(check_items(answer.items, ctx.functions, max_actions))
            except ValueError as e:
                ask.errors.append(str(e))
            ask.feedback = ask.protocol.reask(ask.errors[-1], max_actions)
        if last_cut:
            return ask.proposal(None, ask.errors[-1], cut=True)
        return ask.proposal(None, f"malformed optimizer output after {tries} attempts: {ask.errors[-1]}")

    def _tools_refused(self, ask: _Asking, refused: LLMToolsRefused) -> None:
        """`auto` asks in json from now on; `tools` stops the run with what to set instead."""
        if self.settings.llm.optimizer_protocol != AUTO or ask.protocol.name != TOOLS:
            raise LLMError(
                f"LLM endpoint {self.settings.llm.base_url} refuses the `tools` field "
                f"({refused.provider_message}): the optimizer model cannot call tools; set [llm] "
                'optimizer_protocol = "json" (or "auto") in fnforge.toml'
            ) from None
        self.tools_refused = True
        ask.switch = f"tools -> json: the endpoint refuses the tools field ({refused.provider_message})"
        ask.use(JsonListProtocol())
        ask.attempt -= 1


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
