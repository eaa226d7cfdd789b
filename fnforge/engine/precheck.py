"""The pre-check gate: a cheap look at the candidate before the full validation run.

The optimizer wrote its edit to fix the training-batch tasks the head failed, and it read
their transcripts. So the candidate first runs on just those tasks; an edit that fixes none of
the very failures it was written for is rejected at gate `precheck`, and the validation set
(usually many more tasks, for head and candidate) is never scored for it. The verdict's details
record what the pre-check cost and an estimate of the model calls it saved. `[training] precheck = false`
turns it off; a batch with no failure leaves nothing to check, and the gate passes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fnforge.engine.evaluation import Scorer
from fnforge.engine.llm import LLMError
from fnforge.engine.validation import StepAborted
from fnforge.protocol import CandidateView, Verdict


class PrecheckGate:
    """Gate "precheck": the candidate must fix at least one batch task the head failed."""

    name = "precheck"

    def __init__(
        self, scorer: Scorer, val_tasks: Sequence[Any], tasks: Sequence[Any], head_calls_per_task: float = 1.0
    ):
        """A gate for one step: `tasks` are that step's batch tasks the head failed."""
        self.scorer = scorer
        self.val_tasks = list(val_tasks)
        self.tasks = list(tasks)
        self.head_calls_per_task = head_calls_per_task  # the head's model calls per task on this batch

    def check(self, candidate: CandidateView) -> Verdict:
        """Score the candidate on the head's failed batch tasks; fixing none rejects it."""
        t0 = time.perf_counter()
        if not self.tasks:
            return Verdict.ok(self.name, "no failed batch task to check", details={"ran": False})
        try:
            ev = self.scorer.score(candidate.functions, self.tasks, split="precheck")
        except LLMError as e:
            raise StepAborted(e) from e
        fixed = sorted(i for i, s in ev.task_scores().items() if s > 0)
        calls = ev.usage.calls
        head_cached = self.scorer.cached(candidate.base_functions, self.val_tasks) is not None
        details: dict[str, Any] = {
            "ran": True,
            "tasks": len(self.tasks),
            "fixed": fixed,
            "usage": ev.usage.to_dict(),
            "validation_tasks": len(self.val_tasks),
        }
        if not fixed:
            # validation would have run the candidate on every validation task at about the
            # pre-check's calls per task, and the head (unless its score is cached) at its rate
            n = len(self.val_tasks)
            saved = calls / len(self.tasks) * n + (0 if head_cached else self.head_calls_per_task * n)
            details["calls_saved_estimate"] = round(saved)
            details["validation_rollouts_saved"] = n * (1 if head_cached else 2)
        kw = dict(details=details, duration_s=time.perf_counter() - t0)
        m = len(self.tasks)
        if fixed:
            return Verdict.ok(self.name, f"fixes {len(fixed)} of the {m} batch tasks the head failed", **kw)
        return Verdict.fail(
            self.name,
            # the reason is part of the decision a resumed or replayed run must repeat exactly, so
            # it names nothing that depends on this process's caches (the saving is in the details)
            f"fixes none of the {m} batch tasks the head failed; validation on {len(self.val_tasks)} tasks not run",
            **kw,
        )


def failed_tasks(tasks: Sequence[Any], evaluation: Any) -> list[Any]:
    """The tasks of a scored batch that the set got wrong, in batch order."""
    scores = evaluation.task_scores()
    return [t for t in tasks if scores.get(str(t.id), 0.0) < 1.0]
