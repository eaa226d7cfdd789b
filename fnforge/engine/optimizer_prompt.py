"""The optimizer's prompt, assembled to fit a token budget.

A real optimizer model has a context window, and the prompt competes with the reply for it:
every function's full source, the run's history and sampled transcripts grow without bound
over a run. `render_prompt` therefore fills `prompts/optimizer.txt` within a budget of tokens
(`[llm] optimizer_context_tokens` minus the reply's `optimizer_max_tokens` and the tool
schemas) and, when everything does not fit, gives way in this stated order:

1. the oldest history lines (the latest steps matter most; a line says how many were left out);
2. transcripts, successes before failures, the last sampled first;
3. the bodies of functions not involved in any failure shown: they keep their signature and
   docstring, so the optimizer still knows what they do and can revise them whole;
4. the bodies of the functions involved in failures too;
5. as a last resort, the full template itself: `prompts/optimizer_compact.txt` keeps the task,
   the functions, the failures and the answer format, and states the rules in one paragraph
   (for windows such as a local model's 1,024 tokens, which the full rules alone nearly fill);
   the failures come back with it and give way again, last sampled first, if they must.

With `[llm] optimizer_sources = "involved"` step 3 is taken from the start, whatever the budget:
a function no failure shown touched costs its signature and docstring, not its body, in every
step's prompt (the optimizer is billed per prompt token, and a set's bodies grow with it).
What was left out is said in the prompt itself. Token counts come from `tokens.estimate_tokens`
(offline, conservative).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Template
from typing import Any

from fnforge.config import Settings
from fnforge.engine.prompt_files import prompt_file
from fnforge.engine.tokens import estimate_tokens, request_tokens
from fnforge.engine.transcripts import Transcript


@dataclass
class StepSummary:
    """One earlier step as the optimizer sees it."""

    step: int
    decision: str
    gate: str | None
    reason: str
    score_before: float | None
    score_after: float | None
    actions: list[str]
    functions: list[str] | None = None  # the set after an accepted step (the paper's function lists)

    def render(self) -> str:
        """One line for the prompt."""
        score = ""
        if self.score_before is not None and self.score_after is not None and self.gate != "validation":
            score = f" (validation {self.score_before:.3f} -> {self.score_after:.3f})"
        acts = ", ".join(self.actions) or "no actions"
        why = f" at {self.gate}: {self.reason}" if self.decision != "accepted" and self.gate else ""
        if self.decision == "accepted":
            why = ""
        line = f"- step {self.step}: {acts} -> {self.decision}{why}{score}"
        if self.functions is not None:
            line += f"; the set became: {', '.join(self.functions) or '(empty)'}"
        return line


FAILURES_SHOWN = 4  # failed transcripts a prompt shows at most (more with combine: `failures_shown`)


@dataclass
class OptimizerContext:
    """Everything the optimizer is shown for one step."""

    position: int  # index of this step within the run (0-based): the scripted proposer's cursor
    task_name: str
    task_example: str
    functions: Mapping[str, str]
    history: Sequence[StepSummary]
    transcripts: Sequence[Transcript]
    train_score: float | None
    packages: Sequence[str] = ()
    seed: int = 0
    failures: int = FAILURES_SHOWN  # failed transcripts shown at most (`failures_shown`)
    stdlib: Sequence[str] = ()  # the standard modules the sandbox's policy allows (empty: unknown)


HISTORY_SHOWN = 30  # at most this many latest steps, before the budget trims further
SUCCESSES_SHOWN = 2
RETRY_RESERVE_TOKENS = 400  # room for the one re-ask message that may follow the prompt


def failures_shown(candidates: int, combine: bool) -> int:
    """How many failures the prompt shows: `FAILURES_SHOWN`, or two per proposal when k are combined.

    k proposals drawn from one prompt (`n = k`) can only be as varied as the failures it shows,
    and with `[training] combine` every varied good proposal counts. Without it (and with one
    proposal) the prompt is what it was, so earlier runs replay unchanged.
    """
    return max(FAILURES_SHOWN, 2 * candidates) if combine else FAILURES_SHOWN


MIN_REPLY_TOKENS = 128  # the least reply room a learned window leaves the optimizer
MIN_PROMPT_TOKENS = 768  # ... and the least it leaves the prompt (the compact template, the task, a failure)


@dataclass(frozen=True)
class PromptFit:
    """How one optimizer request is sized: the window it must fit, the reply limit, the prompt's budget."""

    window: int
    reply_tokens: int
    budget_tokens: int


def prompt_fit(
    settings: Settings, tools: Sequence[dict[str, Any]] | None, window: int | None = None
) -> PromptFit:
    """The prompt's budget: the context window minus the reply limit, the tool schemas and a re-ask.

    `window` is the one a server stated in a refusal, when it is smaller than
    `[llm] optimizer_context_tokens`: then the reply limit is cut to at most half of it, and to
    leave the prompt `MIN_PROMPT_TOKENS` (but never below `MIN_REPLY_TOKENS`), and the re-ask
    reserve to an eighth; a configured window keeps the configured reply limit.
    """
    llm = settings.llm
    if window is None or window >= llm.optimizer_context_tokens:
        window, reply, reserve = llm.optimizer_context_tokens, llm.optimizer_max_tokens, RETRY_RESERVE_TOKENS
    else:
        share = min(window // 2, window - MIN_PROMPT_TOKENS)
        reply = min(llm.optimizer_max_tokens, max(MIN_REPLY_TOKENS, share))
        reserve = min(RETRY_RESERVE_TOKENS, window // 8)
    budget = window - reply - request_tokens([], tools or []) - reserve
    return PromptFit(window=window, reply_tokens=reply, budget_tokens=budget)


def prompt_budget(settings: Settings, tools: Sequence[dict[str, Any]] | None) -> int:
    """Tokens the optimizer prompt may take in the configured window (see `prompt_fit`)."""
    return prompt_fit(settings, tools).budget_tokens


def function_stub(name: str, source: str) -> str:
    """A module cut to its public function's signature and docstring (the body is omitted)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source[:300].rstrip() + "\n# ... (rest omitted to fit the prompt)"
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            body: list[ast.stmt] = []
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                body.append(ast.Expr(ast.Constant(doc)))
            body.append(ast.Expr(ast.Constant(...)))
            node.body = body
            return ast.unparse(node) + "  # body omitted to fit the prompt; revise with a full module"
    return f"# functions/{name}.py: no public function {name}; source omitted to fit the prompt"


def involved_functions(transcripts: Sequence[Transcript], names: Sequence[str]) -> set[str]:
    """Functions a failure touched: called in it, or named in its errors and results."""
    found: set[str] = set()
    for tr in transcripts:
        text = [tr.error or ""]
        for ev in tr.events:
            if ev.get("kind") == "tool_call" and ev.get("name") in names:
                found.add(str(ev["name"]))
            if ev.get("kind") in ("tool_result", "error"):
                text.append(str(ev.get("content") or ev.get("message") or ""))
        blob = "\n".join(text)
        found.update(n for n in names if n in blob)
    return found


def _sampled(transcripts: Sequence[Transcript], k: int, budget: int, rng: random.Random) -> list[str]:
    chosen = list(transcripts)
    rng.shuffle(chosen)
    parts: list[str] = []
    used = 0
    for tr in chosen[:k]:
        text = tr.render(budget_chars=min(1500, budget))
        if used + len(text) > budget:
            break
        parts.append(text)
        used += len(text)
    return parts


def _block(name: str, source: str) -> str:
    return f"## functions/{name}.py\n```python\n{source.rstrip()}\n```"


FULL_TEMPLATE = "optimizer.txt"
COMPACT_TEMPLATE = "optimizer_compact.txt"  # for windows the full one cannot fit (a 1,024-token local model)


class _PromptParts:
    """The parts of one optimizer prompt, and what has given way so far to fit a budget."""

    def __init__(self, ctx: OptimizerContext, settings: Settings, budget_chars: int, answer_format: str):
        self.ctx = ctx
        self.settings = settings
        self.answer_format = answer_format
        self.template = FULL_TEMPLATE
        rng = random.Random(f"{ctx.seed}:{ctx.position}")
        ordered = sorted(ctx.transcripts, key=lambda t: t.task_id)
        failed = [t for t in ordered if not t.correct]
        self.failures = _sampled(failed, ctx.failures, budget_chars * 2 // 3, rng)
        self.sampled_failures = list(self.failures)
        self.successes = _sampled([t for t in ordered if t.correct], SUCCESSES_SHOWN, budget_chars // 3, rng)
        self.history = [s.render() for s in ctx.history][-HISTORY_SHOWN:]
        self.omitted_history = len(ctx.history) - len(self.history)
        self.names = sorted(ctx.functions)
        self.full = {n: _block(n, ctx.functions[n]) for n in self.names}
        self.shown = dict(self.full)
        self.stubbed: list[str] = []
        involved = involved_functions(failed, self.names)
        uninvolved = sorted((n for n in self.names if n not in involved), key=lambda n: -len(self.full[n]))
        rest = sorted((n for n in self.names if n in involved), key=lambda n: -len(self.full[n]))
        self.lean = settings.llm.optimizer_sources == "involved"
        if self.lean:  # to save tokens, not to fit: the uninvolved show signature and docstring from the start
            for name in uninvolved:
                self._stub(name)
        self.to_stub = rest if self.lean else [*uninvolved, *rest]

    def fill(self) -> str:
        """The template filled with the parts still shown."""
        ctx = self.ctx
        functions = "\n\n".join(self.shown[n] for n in self.names) or "(none yet: the agent has no functions)"
        notes = []
        if self.stubbed:
            why = "not involved in the failures shown" if self.lean else "to fit the prompt"
            notes.append(
                f"({why}, {len(self.stubbed)} function(s) show only signature and docstring: "
                f"{', '.join(sorted(self.stubbed))})"
            )
        lines = list(self.history)
        if self.omitted_history:
            lines.insert(0, f"- ({self.omitted_history} earlier steps not shown)")
        packages = ", ".join(sorted(ctx.packages))
        return (
            Template(prompt_file(self.template))
            .safe_substitute(
                task_name=ctx.task_name,
                task_example=ctx.task_example.strip() or "(no example)",
                function_count=len(ctx.functions),
                functions="\n\n".join([*notes, functions]),
                history="\n".join(lines) or "(this is the first step)",
                train_score="n/a" if ctx.train_score is None else f"{ctx.train_score:.3f}",
                failures="\n\n".join(self.failures) or "(none)",
                successes="\n\n".join(self.successes) or "(none)",
                max_actions=self.settings.training.max_actions,
                stdlib=", ".join(sorted(m for m in ctx.stdlib if not m.startswith("_")))
                or "(the standard library)",
                packages=f"; and these packages: {packages}" if packages else "",
                answer_format=self.answer_format,
            )
            .strip()
        )

    def _stub(self, name: str) -> None:
        self.shown[name] = _block(name, function_stub(name, self.ctx.functions[name]))
        self.stubbed.append(name)

    def give_way(self) -> int | None:
        """Drop the next part in the stated order; the tokens it saved, or None when none is left."""
        if self.history:
            self.omitted_history += 1
            return estimate_tokens(self.history.pop(0)) + 1
        if self.successes or self.failures:
            return estimate_tokens((self.successes or self.failures).pop()) + 2
        if self.to_stub:
            name = self.to_stub.pop(0)
            self._stub(name)
            return estimate_tokens(self.full[name]) - estimate_tokens(self.shown[name])
        if self.template == FULL_TEMPLATE:  # the failures come back: the short rules leave them room
            before = estimate_tokens(self.fill())
            self.template, self.failures = COMPACT_TEMPLATE, list(self.sampled_failures)
            return before - estimate_tokens(self.fill())
        return None


def render_prompt(
    ctx: OptimizerContext,
    settings: Settings,
    *,
    budget_chars: int = 16000,
    budget_tokens: int | None = None,
    answer_format: str | None = None,
) -> str:
    """The optimizer prompt: prompts/optimizer.txt filled in, within `budget_tokens` when given.

    `budget_chars` bounds the sampled transcripts before any token budget applies;
    `answer_format` is the protocol's closing paragraph (default: the tool-call one).
    """
    if answer_format is None:
        answer_format = prompt_file("optimizer_answer_tools.txt").strip()
    parts = _PromptParts(ctx, settings, budget_chars, answer_format)
    prompt = parts.fill()
    if budget_tokens is None:
        return prompt
    # each part's size is known, so the cuts are arithmetic; the render then checks the sum
    over = estimate_tokens(prompt) - budget_tokens
    while over > 0:
        while over > 0:
            saved = parts.give_way()
            if saved is None:
                return parts.fill()
            over -= saved
        prompt = parts.fill()
        over = estimate_tokens(prompt) - budget_tokens
    return prompt
