"""Shared fixtures for the demo, report and doctor tests.

`reported_repo` is a real function repository (real git) built through
fnforge.function_repo from the demo's own scripted edits: accepted steps, a step the
static gate rejects, one rejected at validation, and a rollback. Validation is a small
gate that returns a Verdict with fixed scores, so the chart has real values to draw
without a sandbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_helpers import ScoredValidation, demo_steps

from fnforge.function_repo import FunctionRepo, StaticGate


@pytest.fixture(scope="session")
def reported_repo(tmp_path_factory) -> Path:
    """A repository with 5 steps: accepted, static-rejected, accepted, validation-rejected, rollback."""
    root = tmp_path_factory.mktemp("reported") / "agent-fns"
    steps = demo_steps()
    usage = {"usage": {"train": {"tokens": 1200, "cost_usd": 0.0012}, "optimizer": {"tokens": 800, "cost_usd": 0.004}},
             "durations_s": {"train": 1.5, "optimizer": 2.0}}  # fmt: skip
    with FunctionRepo.init(root, task="tabmwp") as repo:
        r1 = repo.run_step(
            steps[0], [StaticGate(), ScoredValidation(0.0, 0.10)], run="report-test", note_extra=usage
        )
        r2 = repo.run_step(steps[6], [StaticGate(), ScoredValidation(0.10, 0.10)], run="report-test")
        r3 = repo.run_step(
            steps[1], [StaticGate(), ScoredValidation(0.10, 0.26)], run="report-test", note_extra=usage
        )
        r4 = repo.run_step(steps[4], [StaticGate(), ScoredValidation(0.26, 0.25)], run="report-test")
        r5 = repo.rollback(3, run="report-test")
    assert [r.accepted for r in (r1, r2, r3, r4, r5)] == [True, False, True, False, True]
    assert (r2.gate, r4.gate) == ("static", "validation")
    return root
