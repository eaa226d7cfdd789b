"""The property gate: a candidate's changed functions must survive property tests in the sandbox.

It sits between the static gates and validation: cheap enough to run on every candidate,
and it catches what reading the code cannot (a wrong return type, a crash on an empty list,
randomness, a loop that never ends) with the smallest input that shows it.
"""

from __future__ import annotations

import time

from fnforge.config import SandboxSettings
from fnforge.protocol import CandidateView, Verdict
from fnforge.sandbox.policy import _action_for
from fnforge.sandbox.pool import SandboxPool


class PropertyGate:
    """Gate "property": derived properties and the set's own tests, run in the sandbox."""

    name = "property"

    def __init__(self, pool: SandboxPool, settings: SandboxSettings):
        self.pool = pool
        self.settings = settings

    def budget_s(self, changed: int) -> float:
        """The whole run's wall clock: generous for slow-but-finite functions, never unbounded."""
        return self.settings.property_budget_s + self.settings.property_budget_per_function_s * changed

    def check(self, candidate: CandidateView) -> Verdict:
        """Run the properties of every changed function; the first failure rejects the step."""
        started = time.monotonic()
        changed = [n for n in candidate.changed if n in candidate.functions]
        if not changed:
            return Verdict.ok(self.name, "no changed functions to test")
        report = self.pool.proptest(
            candidate.functions,
            candidate.tests,
            changed,
            self.settings.property_examples,
            timeout=self.budget_s(len(changed)),
            call_timeout=self.settings.timeout_s,
        )
        details = {
            "backend": self.pool.backend_name,
            "checked": report.checked,
            "notes": report.notes,
            "failures": [f.model_dump() for f in report.failures],
            "examples": self.settings.property_examples,
            "budget_exhausted": report.budget_exhausted,
        }
        duration = time.monotonic() - started
        if report.passed:
            return Verdict.ok(
                self.name,
                f"{len(report.checked)} properties held for {', '.join(changed)}",
                details=details,
                duration_s=duration,
            )
        first = report.failures[0]
        on = f" on {first.falsifying_example}" if first.falsifying_example else ""
        reason = f"{first.function}: property '{first.property}' failed{on}: {first.message}"
        if report.budget_exhausted:
            reason += (
                "; the limit is [sandbox] property_budget_s plus property_budget_per_function_s "
                "per changed function"
            )
        return Verdict.fail(
            self.name,
            reason,
            action=_action_for(candidate, first.function),
            details=details,
            duration_s=duration,
        )
