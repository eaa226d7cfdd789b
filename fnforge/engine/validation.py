"""The validation gate: a candidate is merged only if it beats the head on the validation tasks.

Score the candidate set with the agent on the validation tasks, compare with the head set's
score (computed once per set and then reused from the scorer's cache), and let the acceptance
rule (`acceptance.py`: `improves`, the seed paper's roll-back rule, or `significant`, a paired
McNemar test) decide. The verdict carries both scores, which tasks flipped, and the rule's
figures (fixed, broken, p) in its details, the one place they live, so the step's note (whose
verdicts carry them) and the `Fnforge-Score` trailer say exactly why a step was kept or rolled back.

`[training] validation = "sequential"` (the default) scores the candidate chunk by chunk along
the run's seeded validation order and stops once the decision is known (`sequential.py`,
`sequential_walk.py`); the details then say how many tasks decided it and why it stopped, and
the scores are the accuracies on those tasks. `"full"` scores every task, as the seed paper;
a set no larger than one chunk is one look, so it is validated in full either way.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fnforge.engine.acceptance import decide, fixes_needed, paired_counts
from fnforge.engine.evaluation import Evaluation, Scorer, set_hash
from fnforge.engine.llm import LLMClient, LLMError
from fnforge.engine.sequential import SequentialTest
from fnforge.engine.sequential_walk import HeadScores, walk
from fnforge.engine.validation_order import validation_order
from fnforge.protocol import CandidateView, Verdict


class StepAborted(BaseException):  # noqa: N818 - like KeyboardInterrupt, it is not an Exception
    """The model endpoint failed during validation (bad key, offline cache miss): stop the step.

    The store turns a gate's Exception into a failing verdict, which is right for faults of
    the candidate but wrong here: nothing about the candidate is known. Deriving from
    BaseException lets this pass through `repo.judge`; the trainer discards the candidate
    and reports the underlying `LLMError`.
    """

    def __init__(self, error: LLMError):
        super().__init__(str(error))
        self.error = error


class ValidationGate:
    """Gate "validation": the candidate must beat the head on the validation tasks under the rule."""

    name = "validation"

    def __init__(
        self,
        scorer: Scorer,
        val_tasks: Sequence[Any],
        min_delta: float = 0.0,
        *,
        rule: str = "improves",
        alpha: float = 0.05,
        sample: Any = None,
        sequential: Sequential | None = None,
    ):
        self.scorer = scorer
        # a sequence the gate indexes (a lazy split or its sample view): never copied into a list
        self.val_tasks = val_tasks
        self.sample = sample  # a data_sources.ValidationSample when `[data] val_sample` cut the split
        self.min_delta = min_delta
        self.rule = rule
        self.alpha = alpha
        self.sequential = sequential  # None: full validation
        self.last: tuple[Evaluation, Evaluation] | None = None  # (head, candidate) of the last check

    def check(self, candidate: CandidateView) -> Verdict:
        """Score head and candidate on the validation tasks and compare."""
        t0 = time.perf_counter()
        if self.sequential is not None and len(self.val_tasks) > self.sequential.chunk:
            return self._sequential(
                candidate, self.sequential, t0
            )  # one chunk or less: one look, the full rule
        try:
            head = self.scorer.score(candidate.base_functions, self.val_tasks, split="val-head")
            cand = self.scorer.score(candidate.functions, self.val_tasks, split="val-candidate")
        except LLMError as e:
            raise StepAborted(e) from e
        self.last = (head, cand)
        before, after = head.accuracy, cand.accuracy
        flipped = cand.score.flipped(head.score)
        fixed, broken = paired_counts(head.task_scores(), cand.task_scores())
        decision = decide(
            self.rule,
            before=before,
            after=after,
            fixed=fixed,
            broken=broken,
            alpha=self.alpha,
            min_delta=self.min_delta,
        )
        details = {
            "n": len(self.val_tasks),
            "head": head.summary(),
            "candidate": cand.summary(),
            "flipped": {k: list(v) for k, v in flipped.items()},
            "min_delta": self.min_delta,
            "acceptance": decision.to_dict(),
            "usage": (head.usage + cand.usage).to_dict(),
        }
        if self.sample is not None:
            details["sample"] = self.sample.to_dict()
        kw = dict(
            score_before=before, score_after=after, details=details, duration_s=time.perf_counter() - t0
        )
        on = f"{len(self.val_tasks)} tasks"
        if self.sample is not None:
            on = f"a seeded sample of {self.sample.size} of {self.sample.of} validation tasks"
        change = (
            f"{before:.3f} -> {after:.3f} on {on} ({fixed} fixed, {broken} broken); " + decision.describe()
        )
        if decision.accepted:
            return Verdict.ok(self.name, f"validation improved {change}", **kw)
        if self.rule == "significant" and after > before + self.min_delta:
            need = fixes_needed(self.alpha, 0, limit=len(self.val_tasks) + 1)
            if need is None or need > len(self.val_tasks):
                change += (
                    f"; {len(self.val_tasks)} validation tasks are too few for the significant rule to ever "
                    f'accept at alpha {self.alpha}: add tasks, or set [training] accept = "improves"'
                )
            return Verdict.fail(self.name, f"improvement not significant: {change}", **kw)
        margin = f" by more than {self.min_delta}" if self.min_delta else ""
        return Verdict.fail(self.name, f"no improvement{margin}: {change}", **kw)

    def _sequential(self, candidate: CandidateView, seq: Sequential, t0: float) -> Verdict:
        """Walk the seeded order in chunks until the sequential rule decides (see the module doc)."""
        n = len(self.val_tasks)
        test = SequentialTest(self.rule, n, alpha=self.alpha, min_delta=self.min_delta, futility=seq.futility)
        try:
            w = walk(
                self.scorer, self.val_tasks, validation_order(n, seq.seed), candidate.base_functions,
                candidate.functions, test, chunk=seq.chunk, heads=seq.heads,
            )  # fmt: skip
        except LLMError as e:
            raise StepAborted(e) from e
        d, used = w.decision.decision, w.decision.tasks
        fixed = sorted(t for t, c in w.candidate.items() if c > w.head.get(t, c))
        broken = sorted(t for t, c in w.candidate.items() if c < w.head.get(t, c))
        details = {
            "n": n,
            "tasks": used,
            "head": {"accuracy": round(d.before, 6), "n": used, "set": set_hash(candidate.base_functions)},
            "candidate": {"accuracy": round(d.after, 6), "n": used, "set": set_hash(candidate.functions)},
            "head_rollouts": w.head_scored,
            "flipped": {"fixed": fixed, "broken": broken},
            "min_delta": self.min_delta,
            "acceptance": w.decision.to_dict(),
            "usage": w.usage.to_dict() if w.usage is not None else {},
        }
        of = f"{n} tasks"
        if self.sample is not None:
            details["sample"] = self.sample.to_dict()
            of = f"a seeded sample of {self.sample.size} of {self.sample.of} validation tasks"
        kw = dict(
            score_before=d.before, score_after=d.after, details=details, duration_s=time.perf_counter() - t0
        )
        change = (
            f"{d.before:.3f} -> {d.after:.3f} on {used} of {of} ({len(fixed)} fixed, {len(broken)} broken); "
            + w.decision.describe()
        )
        if d.accepted:
            return Verdict.ok(self.name, f"validation improved {change}", **kw)
        return Verdict.fail(self.name, f"not accepted: {change}", **kw)


@dataclass(frozen=True)
class Sequential:
    """How the gate validates sequentially: the order's seed, tasks per look, the futility bound,
    and the head's per-task scores kept across the run's steps."""

    seed: int
    chunk: int
    futility: float
    heads: HeadScores


class SkippedValidation:
    """Gate "validation" that did not run (no model reachable): passes, and says so.

    `fnforge apply` must never silently need an API key (DESIGN.md): when validation cannot
    run without surprises, the step is judged by the gates before it and the verdict says
    that validation did not run, and why.
    """

    name = "validation"

    def __init__(self, why: str):
        self.why = why

    def check(self, candidate: CandidateView) -> Verdict:
        """A passing verdict that records why validation was skipped."""
        return Verdict.ok(self.name, f"validation did not run: {self.why}", details={"ran": False})


def why_validation_cannot_run(settings: Any) -> str | None:
    """None when validation can run without surprises (direct mode, or a reachable model)."""
    if settings.agent.mode == "direct":
        return None
    host = urlparse(settings.llm.base_url).hostname or ""
    local = host in ("127.0.0.1", "localhost", "::1")
    if not local and not os.environ.get(settings.llm.api_key_env):
        return f"no API key in ${settings.llm.api_key_env} for {settings.llm.base_url}"
    return asyncio.run(LLMClient(settings.llm, None).reachable())


def validation_for_apply(repo: Any, stack: ExitStack, *, pool: Any = None) -> Any:
    """The validation gate for a hand-made step (`fnforge apply`), or a SkippedValidation.

    `repo` is a FunctionRepo or its path; resources (event loop, sandbox pool unless one is
    given, LLM connections) are entered on `stack` and closed with it.
    """
    from fnforge.engine.experiment import Experiment

    if isinstance(repo, str | Path):
        from fnforge.function_repo import FunctionRepo

        repo = FunctionRepo.open(repo)
    why = why_validation_cannot_run(repo.settings)
    if why:
        return SkippedValidation(why)
    exp = stack.enter_context(Experiment(repo, pool=pool, splits=("val",)))
    return validation_gate(exp.scorer, exp.val_tasks, repo.settings, exp.val_sample)


def validation_gate(
    scorer: Scorer,
    val_tasks: Sequence[Any],
    settings: Any,
    sample: Any = None,
    heads: HeadScores | None = None,
) -> ValidationGate:
    """The validation gate with the acceptance rule, alpha, margin and validation mode of `[training]`.

    `sample` (a `ValidationSample`) when `val_tasks` is `[data] val_sample`'s cut of the split;
    `heads` keeps the head's per-task scores from step to step (sequential mode); without it
    the head is scored afresh along the order.
    """
    t = settings.training
    seq = None
    if t.validation == "sequential":
        seq = Sequential(t.seed, t.validation_chunk, t.validation_futility, heads or HeadScores())
    return ValidationGate(
        scorer, val_tasks, t.min_delta, rule=t.accept, alpha=t.alpha, sample=sample, sequential=seq
    )
