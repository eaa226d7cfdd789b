"""A proposed function set waiting for its gates, the outcome of a step, and the gate runner.

A `Candidate` is plain data (it satisfies fnforge.protocol.CandidateView), so a gate from
another part reads it without knowing anything about git. `run_gates` is the one place
that decides how an ordered gate list is applied: cheapest first, stop at the first
failure, and turn a crashing gate into a failing verdict instead of an exception.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.function_repo.actions import Action
from fnforge.protocol import Gate, Verdict


@dataclass(frozen=True)
class Candidate:
    """The function set a step proposes, on branch `fnforge/<run>/step-<n>`."""

    step: int
    run: str
    functions: Mapping[str, str]
    tests: Mapping[str, str]
    changed: list[str]
    removed: list[str]
    base_functions: Mapping[str, str]
    actions: list[Action]
    tree_sha: str
    commit_sha: str
    branch: str
    base_sha: str
    notices: list[str] = field(default_factory=list)  # e.g. "arguments disagreed: the code wins"


@dataclass(frozen=True)
class StepResult:
    """What happened to one step: the decision, every verdict in order, and the new commit."""

    step: int
    run: str
    accepted: bool
    gate: str | None
    reason: str
    verdicts: list[Verdict]
    score_before: float | None
    score_after: float | None
    commit: str
    actions: list[str]
    notices: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    waiting: bool = False  # passed every gate and waits for a person (`[training] review = "human"`)

    @property
    def decision(self) -> str:
        """`accepted: <why>` or `rejected: <gate>: <why>`, as in the Fnforge-Decision trailer."""
        if self.waiting:
            return f"awaiting review: {self.reason}"
        if self.accepted:
            return f"accepted: {self.reason}"
        return f"rejected: {self.gate}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for `--json` output."""
        return {
            "step": self.step,
            "run": self.run,
            "accepted": self.accepted,
            "decision": "awaiting review" if self.waiting else "accepted" if self.accepted else "rejected",
            "gate": self.gate,
            "reason": self.reason,
            "score_before": self.score_before,
            "score_after": self.score_after,
            "commit": self.commit,
            "actions": self.actions,
            "notices": self.notices,
            "recovered": self.recovered,
            "verdicts": [v.model_dump() for v in self.verdicts],
        }


def run_gates(gates: Sequence[Gate], candidate: Any) -> list[Verdict]:
    """Run the gates in order and stop at the first failing one.

    A gate that raises is recorded as failing with the exception as its reason: a broken
    gate must reject the step, not end the run.
    """
    verdicts: list[Verdict] = []
    for gate in gates:
        name = getattr(gate, "name", type(gate).__name__)
        started = time.perf_counter()
        try:
            verdict = gate.check(candidate)
            if not isinstance(verdict, Verdict):
                verdict = Verdict.fail(name, f"gate returned {type(verdict).__name__}, not a Verdict")
        except Exception as e:  # a failure inside a run is a value
            verdict = Verdict.fail(name, f"gate crashed: {type(e).__name__}: {e}")
        if not verdict.duration_s:
            verdict = verdict.model_copy(update={"duration_s": round(time.perf_counter() - started, 4)})
        verdicts.append(verdict)
        if not verdict.passed:
            break
    return verdicts
