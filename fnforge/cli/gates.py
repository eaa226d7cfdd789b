"""Composes the ordered gate list for a hand-written step (`fnforge apply`).

DESIGN.md: whoever starts a step composes the gates, cheapest first, so no part below the
engine imports another. `apply` uses the trainer's gates before validation
(engine.step_gates.candidate_gates) with one difference in validation: it runs only where it
can run without surprises (direct mode, or a reachable model). Otherwise the verdict says
that validation did not run and why: a hand edit never silently needs an API key.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from fnforge.cli.output import UsageError, progress
from fnforge.config import load_settings
from fnforge.protocol import CandidateView, Gate, Verdict


class HandEditValidation:
    """The engine's validation gate, with a failing model endpoint reported instead of raised.

    In training an endpoint failure stops the step; for a hand edit the gates before
    validation have already judged it, so the verdict says validation did not run and why.
    """

    name = "validation"

    def __init__(self, inner: Gate):
        self.inner = inner

    def check(self, candidate: CandidateView) -> Verdict:
        """Score head and candidate; an endpoint failure becomes 'did not run'."""
        from fnforge.engine.validation import SkippedValidation, StepAborted

        try:
            return self.inner.check(candidate)
        except StepAborted as e:
            return SkippedValidation(f"the model endpoint failed ({e})").check(candidate)


def default_gates(repo_root: Path, stack: ExitStack, *, validate: bool = True) -> list[Gate]:
    """The gates for a hand-written step in `repo_root`, cheapest first.

    Static, policy and property gates always run; the sandbox pool they need is entered on
    `stack`, so the caller closes it (containers removed) when the step is done.
    """
    from fnforge.engine.step_gates import candidate_gates
    from fnforge.sandbox import SandboxUnavailable, open_pool

    settings = load_settings(repo_root)
    try:
        pool = stack.enter_context(open_pool(settings.sandbox, min(settings.sandbox.pool, 2)))
        gates: list[Gate] = candidate_gates(settings.sandbox, pool)
    except SandboxUnavailable as e:
        raise UsageError(str(e)) from None
    progress(f"sandbox: {pool.backend_name}", backend=pool.backend_name)
    gates.append(_validation_gate(repo_root, stack, pool, validate))
    return gates


def _validation_gate(repo_root: Path, stack: ExitStack, pool: object, validate: bool) -> Gate:
    """The engine's validation gate for this repository, or a gate saying why it did not run."""
    from fnforge.engine.experiment import ExperimentError
    from fnforge.engine.validation import SkippedValidation, validation_for_apply

    if not validate:
        return SkippedValidation("--no-validate")
    try:
        gate = validation_for_apply(repo_root, stack, pool=pool)
    except ExperimentError as e:
        return SkippedValidation(str(e))
    return gate if isinstance(gate, SkippedValidation) else HandEditValidation(gate)
