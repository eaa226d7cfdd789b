"""What a report shows, as plain data: the steps of a run and the final function set.

The report is rendered from these small records rather than from git objects, so the
chart and the page can be tested (and read) without a repository, and the one module
that reads the repository (`collect`) is the only one that knows how.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepView:
    """One decided step as the report shows it: verdict, scores, cost and its diff."""

    step: int
    decision: str  # "accepted" | "rejected"
    kind: str = "step"  # "step" | "rollback"
    run: str = ""
    gate: str | None = None
    reason: str = ""
    score_before: float | None = None
    score_after: float | None = None
    actions: list[str] = field(default_factory=list)
    commit: str = ""
    tokens: int | None = None
    cost_usd: float | None = None
    duration_s: float | None = None
    diff: str = ""
    rolls_back: int | None = None
    train_score: float | None = None  # the head's score on the step's training batch
    reviewed_by: str | None = None  # the person who approved or rejected it (review = "human")
    validation_tasks: int | None = None  # validation tasks the validation gate scored

    def to_dict(self) -> dict[str, Any]:
        """The step as `/state.json` lists it: `fnforge log --json`'s fields plus its figures, no diff."""
        out = {k: v for k, v in asdict(self).items() if k != "diff"}
        out["score_change"] = self.score_change
        return out

    @property
    def accepted(self) -> bool:
        """True when the step changed the set's branch."""
        return self.decision == "accepted"

    @property
    def score_change(self) -> float | None:
        """after - before, when both are known."""
        if self.score_before is None or self.score_after is None:
            return None
        return self.score_after - self.score_before


@dataclass(frozen=True)
class WaitingView:
    """A candidate that passed every gate and waits for a person (`[training] review = "human"`)."""

    step: int
    run: str
    branch: str
    commit: str
    reason: str = ""
    score_before: float | None = None
    score_after: float | None = None
    actions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `/state.json`."""
        return asdict(self)


@dataclass(frozen=True)
class FunctionView:
    """A function of the final set: its module source and its derived tool schema."""

    name: str
    source: str
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportData:
    """Everything one report page shows."""

    title: str
    branch: str
    head: str
    steps: list[StepView]
    functions: list[FunctionView]
    generated_at: str = ""
    task: str = ""
    analyses: Any = None  # fnforge.report.analyses.Analyses: complexity, test and transfer scores
    estimates: dict[str, Any] = field(default_factory=dict)  # run -> `train --estimate` kept at its start
    notes_by_run: dict[str, list[Any]] = field(default_factory=dict)  # run -> its steps' notes, in order
    waiting: list[WaitingView] = field(default_factory=list)  # candidates waiting for review
    in_flight: dict[str, Any] | None = None  # the step being trained when the page was made
    version: str = ""  # changes whenever a step is recorded or a candidate starts or stops waiting
