"""One model of a run for both of its renderings: the report file and `fnforge watch`.

`read_run` reads what a repository says about its runs right now: every decided step with
its figures (one `git log`), the candidates waiting for review, and the step in flight from
the trainer's state file. The report adds diffs, functions and analyses to it; watch serves
it as `/state.json` and renders the same page from it, so the two never disagree about a
step. Reading takes no lock and writes nothing: it may run while the trainer works.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from fnforge.engine.run_state import read_in_flight
from fnforge.function_repo import FunctionRepo
from fnforge.function_repo.review import waiting
from fnforge.report.model import StepView, WaitingView
from fnforge.report.step_figures import number, step_view


@dataclass(frozen=True)
class RunState:
    """A repository's runs as they are now: steps, candidates waiting, the step in flight."""

    branch: str
    head: str
    review: str  # [training] review: "auto" or "human"
    steps: list[StepView] = field(default_factory=list)
    waiting: list[WaitingView] = field(default_factory=list)
    in_flight: dict[str, Any] | None = None

    @property
    def version(self) -> str:
        """A short hash that changes when a step is recorded, the head moves or a candidate waits."""
        parts = [self.head, *(f"{s.step}:{s.commit}" for s in self.steps)]
        parts += [f"w{w.step}:{w.commit}" for w in self.waiting]
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """Counts and the latest accepted validation score, as the page's summary line shows them."""
        accepted = [s for s in self.steps if s.accepted and s.kind == "step"]
        scores = [s.score_after for s in self.steps if s.accepted and s.score_after is not None]
        return {
            "steps": len(self.steps),
            "accepted": len(accepted),
            "rejected": sum(1 for s in self.steps if not s.accepted),
            "rollbacks": sum(1 for s in self.steps if s.kind == "rollback"),
            "waiting": len(self.waiting),
            "validation_score": scores[-1] if scores else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """What `GET /state.json` returns."""
        return {
            "branch": self.branch,
            "head": self.head,
            "review": self.review,
            "version": self.version,
            "summary": self.summary(),
            "steps": [s.to_dict() for s in self.steps],
            "waiting": [w.to_dict() for w in self.waiting],
            "in_flight": self.in_flight,
        }


def waiting_view(candidate: Any) -> WaitingView:
    """A function_repo WaitingCandidate as the views show it."""
    return WaitingView(
        step=candidate.step,
        run=candidate.run,
        branch=candidate.branch,
        commit=candidate.commit,
        reason=candidate.reason,
        score_before=number(candidate.score_before),
        score_after=number(candidate.score_after),
        actions=list(candidate.actions),
    )


def read_run(repo: FunctionRepo) -> RunState:
    """The repository's runs now: every decided step (rejected ones too), waiting candidates, in flight."""
    return RunState(
        branch=repo.branch,
        head=repo.head(),
        review=repo.settings.training.review,
        steps=[step_view(r) for r in repo.steps(include_rejected=True)],
        waiting=[waiting_view(w) for w in waiting(repo)],
        in_flight=read_in_flight(repo.git_dir),
    )
