"""What a run will cost, before it sends a single request: `fnforge train --estimate`.

A user decides on a budget before the run, so the estimate is made from what the run will
really send, not from a rule of thumb: the agent's first-turn messages as `ModelAgent.start`
builds them for the run's own tasks (system prompt, rendered task, the current set's tool
schemas), the optimizer prompt as `render_prompt` fills it for the current set (with failure
transcripts of the run's own training tasks, cut to the same budget), the reply limits of
both models, and `[llm] prices`. Token counts come from `tokens.py`, the same conservative
count the ledger reserves with.

Two figures per role, per step and for the whole run (`max_steps`):

- **at most**: what the ledger could reserve: every task runs `max_turns` turns, every reply
  fills its limit, every optimizer request is retried `optimizer_retries` times, validation
  scores every task for candidate and head, every batch task fails (so the pre-check runs them all);
- **expected**: the assumptions in `EXPECTED` (stated in the output): turns per task, reply
  lengths, the share of batch tasks that fail, the share of validation tasks that sequential
  validation scores (`benchmarks/sequential_validation.py`), and how often the head changes.

Roles: `train batch` (the head on the step's batch), `pre-check` (each candidate on the batch's
failures), `validation` (the chosen candidate, and the head when it changed), `optimizer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.config import Settings
from fnforge.engine.ledger import price_of
from fnforge.engine.tokens import estimate_tokens, request_tokens

ROLES = ("train batch", "pre-check", "validation", "optimizer")
SAMPLED_TASKS = 64  # tasks rendered to measure the agent's first prompt (spread over the split)
EXPECTED = {
    "agent_turns": 2.0,  # a tool call and the answer (1 when the set has no function)
    "agent_reply_tokens": 200,
    "failed_share": 0.5,  # of a batch, run again by the pre-check
    "sequential_share": 0.375,  # of the validation tasks, per candidate (benchmarks/sequential_validation.py)
    "head_changes": 0.25,  # the share of steps whose accepted candidate makes the head be scored again
    "validation_rejects": 0.5,  # of validated candidates (search_efficiency.py: about half), which with
    # validate_candidates > 1 makes way for the next best
    "optimizer_reply_tokens": 1500,
}


@dataclass
class RoleCost:
    """Requests, input and output tokens and dollars (None when a model has no price) of one role."""

    requests: float = 0.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    usd: float | None = 0.0

    def times(self, k: float) -> RoleCost:
        """This cost k times over."""
        usd = None if self.usd is None else self.usd * k
        return RoleCost(self.requests * k, self.input_tokens * k, self.output_tokens * k, usd)

    def plus(self, other: RoleCost) -> RoleCost:
        """The sum of two costs (dollars unknown if either is)."""
        usd = None if self.usd is None or other.usd is None else self.usd + other.usd
        return RoleCost(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            usd,
        )

    def to_dict(self) -> dict[str, Any]:
        """Rounded plain data."""
        return {
            "requests": round(self.requests),
            "input_tokens": round(self.input_tokens),
            "output_tokens": round(self.output_tokens),
            "usd": None if self.usd is None else round(self.usd, 4),
        }


@dataclass
class Estimate:
    """Per step and whole-run costs by role, `expected` and `at_most`, and the assumptions made."""

    steps: int
    per_step: dict[str, dict[str, RoleCost]] = field(default_factory=dict)  # kind -> role -> cost
    run: dict[str, dict[str, RoleCost]] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)

    def total(self, kind: str, scope: str = "run") -> RoleCost:
        """The sum over roles of `expected` or `at_most`, per step or for the run."""
        costs = (self.run if scope == "run" else self.per_step)[kind]
        out = RoleCost()
        for c in costs.values():
            out = out.plus(c)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `--estimate --json` and the report)."""

        def table(t: dict[str, dict[str, RoleCost]]) -> dict[str, Any]:
            return {k: {r: c.to_dict() for r, c in roles.items()} for k, roles in t.items()}

        return {
            "steps": self.steps,
            "per_step": table(self.per_step),
            "run": table(self.run),
            "total": {k: self.total(k).to_dict() for k in self.run},
            "assumptions": self.assumptions,
        }

    def render(self) -> str:
        """The table `fnforge train --estimate` prints."""
        lines = [f"estimate for {self.steps} steps (no request sent); expected / at most:"]
        head = f"{'role':<12} {'requests':>19} {'input tokens':>23} {'output tokens':>23} {'dollars':>19}"
        for scope, table in (("per step", self.per_step), (f"whole run ({self.steps} steps)", self.run)):
            lines += ["", scope, head]
            for role in [*ROLES, "total"]:
                if role == "total":
                    e, m = (
                        self.total("expected", "run" if table is self.run else "step"),
                        self.total("at_most", "run" if table is self.run else "step"),
                    )
                else:
                    e, m = table["expected"][role], table["at_most"][role]
                lines.append(
                    f"{role:<12} {_pair(e.requests, m.requests)} {_pair(e.input_tokens, m.input_tokens, 23)} "
                    f"{_pair(e.output_tokens, m.output_tokens, 23)} {_usd_pair(e.usd, m.usd)}"
                )
        shown = ", ".join(f"{k} {v}" for k, v in self.assumptions.items())
        lines += ["", f"expected assumes: {shown}"]
        return "\n".join(lines)


def _pair(e: float, m: float, width: int = 19) -> str:
    return f"{f'{round(e):,} / {round(m):,}':>{width}}"


def _usd_pair(e: float | None, m: float | None) -> str:
    if e is None or m is None:
        return f"{'(no price)':>19}"
    return f"{f'${e:.2f} / ${m:.2f}':>19}"


def _spread(tasks: Sequence[Any], k: int) -> list[Any]:
    """Up to k tasks spread over a split, by index (a lazy split is never read whole)."""
    n = len(tasks)
    if n <= k:
        return [tasks[i] for i in range(n)]
    return [tasks[i * n // k] for i in range(k)]


def first_prompt_tokens(
    settings: Settings, functions: Mapping[str, str], evaluator: Any, tasks: Sequence[Any]
) -> float:
    """The mean prompt tokens of the agent's first request on these tasks (messages and tool schemas)."""
    from fnforge.engine.agent import ToolsAgent
    from fnforge.engine.react import ReactAgent
    from fnforge.engine.toolbox import Toolbox

    a = settings.agent
    toolbox = Toolbox(
        functions, None, timeout_s=settings.sandbox.timeout_s, budget_chars=a.result_budget_chars
    )
    agent = (ReactAgent if a.mode == "react" else ToolsAgent)(None, toolbox, evaluator, a.max_turns)  # type: ignore[arg-type]
    tools = toolbox.schemas if a.mode == "tools" else None
    sizes = [request_tokens(agent.start(t)[1], tools) for t in _spread(tasks, SAMPLED_TASKS)]
    return sum(sizes) / max(1, len(sizes))


def agent_task_cost(settings: Settings, first: float, has_tools: bool, worst: bool) -> RoleCost:
    """One task's agent requests: each turn's prompt grows by the reply and the tool result before it."""
    s = settings
    if s.agent.mode == "direct":
        return RoleCost()
    turns = s.agent.max_turns if worst else (EXPECTED["agent_turns"] if has_tools else 1.0)
    reply = s.llm.max_tokens if worst else min(s.llm.max_tokens, EXPECTED["agent_reply_tokens"])
    result = estimate_tokens("x" * s.agent.result_budget_chars) if worst else reply / 2
    grow = reply + result
    full = int(turns)
    inputs = sum(min(first + i * grow, s.llm.context_tokens) for i in range(full))
    inputs += (turns - full) * min(first + full * grow, s.llm.context_tokens)
    outputs = turns * reply
    return RoleCost(turns, inputs, outputs, price_of(s.llm.prices, s.llm.model, inputs, outputs))


def optimizer_prompt_tokens(
    settings: Settings, functions: Mapping[str, str], evaluator: Any, tasks: Sequence[Any]
) -> int:
    """The optimizer prompt for the current set, with failures of the run's own tasks, as `render_prompt` fits it."""
    from fnforge.engine.optimizer import OPTIMIZER_TOOLS
    from fnforge.engine.optimizer_prompt import OptimizerContext, failures_shown, prompt_budget, render_prompt
    from fnforge.engine.transcripts import Transcript

    failures = failures_shown(settings.training.candidates, settings.training.combine)
    shown = _spread(tasks, failures + 2)
    transcripts = []
    for i, t in enumerate(shown):
        tr = Transcript(task_id=str(t.id), mode=settings.agent.mode, correct=i >= failures)
        tr.add("task", text=evaluator.render(t))
        tr.add("assistant", content="x" * 600)
        transcripts.append(tr)
    ctx = OptimizerContext(
        position=0,
        task_name=settings.task.name,
        task_example=evaluator.render(shown[0]) if shown else "",
        functions=functions,
        history=[],
        transcripts=transcripts,
        train_score=0.5,
        seed=settings.training.seed,
        failures=failures,
    )
    prompt = render_prompt(ctx, settings, budget_tokens=prompt_budget(settings, OPTIMIZER_TOOLS))
    return request_tokens([{"role": "user", "content": prompt}], OPTIMIZER_TOOLS)


def _prechecked(t: Any) -> int:
    """Candidates pre-checked a step: the k proposals, and their combination with `combine`."""
    return t.candidates + (1 if t.combine and t.candidates > 1 else 0)


def _validated(t: Any, worst: bool) -> float:
    """Candidates validated a step: up to `validate_candidates` of those that passed, each after a rejection."""
    tries = min(t.validate_candidates, _prechecked(t))
    return float(tries) if worst else sum(EXPECTED["validation_rejects"] ** j for j in range(tries))


def optimizer_cost(settings: Settings, prompt: int, worst: bool) -> RoleCost:
    """The optimizer's requests of one step: k proposals (one request with n = k, or k requests)."""
    s = settings
    if s.llm.scripted_edits:
        return RoleCost()
    k = s.training.candidates
    asks = 1 + s.training.optimizer_retries if worst else 1.0
    reply = (
        s.llm.optimizer_max_tokens
        if worst
        else min(s.llm.optimizer_max_tokens, EXPECTED["optimizer_reply_tokens"])
    )
    requests = asks * (k if worst else 1)  # with n = k the prompt is paid once; worst: k requests
    inputs = requests * prompt
    outputs = asks * k * reply
    return RoleCost(requests, inputs, outputs, price_of(s.llm.prices, s.llm.optimizer_model, inputs, outputs))


def estimate_run(
    settings: Settings,
    functions: Mapping[str, str],
    evaluator: Any,
    train_tasks: Sequence[Any],
    val_tasks: Sequence[Any],
) -> Estimate:
    """Per step and whole-run costs by role (see the module docstring); sends nothing."""
    s, t = settings, settings.training
    steps = t.max_steps
    batch = min(t.batch_size, len(train_tasks))
    n_val = len(val_tasks)
    first = first_prompt_tokens(s, functions, evaluator, train_tasks) if s.agent.mode != "direct" else 0.0
    val_first = first_prompt_tokens(s, functions, evaluator, val_tasks) if s.agent.mode != "direct" else 0.0
    opt_prompt = optimizer_prompt_tokens(s, functions, evaluator, train_tasks)
    has_tools = bool(functions)
    est = Estimate(
        steps=steps,
        assumptions={
            **EXPECTED,
            "candidates": t.candidates,
            "combine": t.combine,
            "validate_candidates": t.validate_candidates,
            "validation": t.validation,
        },
    )
    for kind, worst in (("expected", False), ("at_most", True)):
        task = agent_task_cost(s, first, has_tools, worst)
        val_task = agent_task_cost(s, val_first, has_tools, worst)
        failed = batch if worst else batch * EXPECTED["failed_share"]
        share = 1.0 if worst or t.validation == "full" else EXPECTED["sequential_share"]
        head = 1.0 if worst else EXPECTED["head_changes"]
        roles = {
            "train batch": task.times(batch),
            "pre-check": task.times(failed * _prechecked(t)) if t.precheck else RoleCost(),
            "validation": val_task.times(n_val * (share * _validated(t, worst) + head * share)),
            "optimizer": optimizer_cost(s, opt_prompt, worst),
        }
        est.per_step[kind] = roles
        run = {role: c.times(steps) for role, c in roles.items()}
        run["validation"] = run["validation"].plus(val_task.times(n_val * share))  # the first head
        est.run[kind] = run
    if not _priced(s):
        for table in (est.per_step, est.run):
            for roles in table.values():
                for c in roles.values():
                    c.usd = None
    return est


def _priced(settings: Settings) -> bool:
    """Whether every model the run asks has an input and output price."""
    prices = settings.llm.prices
    models = [settings.llm.model] if settings.agent.mode != "direct" else []
    if not settings.llm.scripted_edits:
        models.append(settings.llm.optimizer_model)
    return all({"input", "output"} <= set(prices.get(m) or {}) for m in models)


def estimate_repo(repo: Any) -> Estimate:
    """The estimate for a function repository's next run: its settings, data and current set.

    Opens no sandbox and no model client: only the evaluator and the task files are read.
    """
    from fnforge.engine.data_sources import sampled_validation
    from fnforge.engine.experiment import load_tasks
    from fnforge.evaluators import get_evaluator

    s = repo.settings
    evaluator = get_evaluator(s.task.name, repo.root)
    train, _ = load_tasks(evaluator, repo.root, s.data.train, "train", s.data.max_bad_share)
    val_split, _ = load_tasks(evaluator, repo.root, s.data.val, "val", s.data.max_bad_share)
    val, _ = sampled_validation(val_split, s.training.seed, s.data.val_sample)  # what the gates score
    return estimate_run(s, dict(repo.functions()), evaluator, train, val)
