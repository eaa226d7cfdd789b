"""Composes the ordered gate list for a hand-written step (`fnforge apply`).

DESIGN.md: whoever starts a step composes the gates, cheapest first, so no part below the
engine imports another. The trainer composes its own list (engine.trainer.training_gates);
`apply` uses the same gates with one difference: validation runs only where it can run
without surprises (direct mode, or a model key in the environment). Otherwise the verdict
says that validation did not run and why: a hand edit never silently needs an API key.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from fnforge.cli.output import UsageError, progress
from fnforge.config import Settings, load_settings
from fnforge.protocol import CandidateView, Gate, Verdict


class ValidationNotRun:
    """Stands in for the validation gate when it cannot run; passes and says why."""

    name = "validation"

    def __init__(self, why: str):
        self.why = why

    def check(self, candidate: CandidateView) -> Verdict:
        """Pass, recording that the step was judged by the earlier gates only."""
        return Verdict.ok(self.name, f"validation did not run: {self.why}", details={"ran": False})


class HandEditValidation:
    """The engine's validation gate, with an unreachable model reported instead of raised.

    In training an endpoint failure stops the step; for a hand edit the gates before
    validation have already judged it, so the verdict says validation did not run and why.
    """

    name = "validation"

    def __init__(self, inner: Gate):
        self.inner = inner

    def check(self, candidate: CandidateView) -> Verdict:
        """Score head and candidate; an endpoint failure becomes 'did not run'."""
        from fnforge.engine.validation import StepAborted

        try:
            return self.inner.check(candidate)
        except StepAborted as e:
            return ValidationNotRun(f"the model endpoint failed ({e})").check(candidate)


def why_validation_cannot_run(settings: Settings, validate: bool) -> str | None:
    """None when validation can run for a hand edit; otherwise the reason it will not."""
    if not validate:
        return "--no-validate"
    if settings.agent.mode == "direct":
        return None
    if not os.environ.get(settings.llm.api_key_env):
        return (
            f"mode {settings.agent.mode!r} needs the model, and {settings.llm.api_key_env} is not set "
            "(set it, or use --no-validate to silence this)"
        )
    return None


def default_gates(repo_root: Path, stack: ExitStack, *, validate: bool = True) -> list[Gate]:
    """The gates for a hand-written step in `repo_root`, cheapest first.

    Static, policy and property gates always run; the sandbox pool they need is entered on
    `stack`, so the caller closes it (containers removed) when the step is done.
    """
    from fnforge.function_repo import StaticGate
    from fnforge.sandbox import PolicyGate, PropertyGate, SandboxUnavailable, image_packages, open_pool

    settings = load_settings(repo_root)
    try:
        packages = image_packages(settings.sandbox)
        pool = stack.enter_context(open_pool(settings.sandbox, min(settings.sandbox.pool, 2)))
    except SandboxUnavailable as e:
        raise UsageError(str(e)) from None
    progress(f"sandbox: {pool.backend_name}", backend=pool.backend_name)
    gates: list[Gate] = [StaticGate(), PolicyGate(packages), PropertyGate(pool, settings.sandbox)]

    why_not = why_validation_cannot_run(settings, validate)
    if why_not is None:
        why_not, validation = _validation_gate(repo_root, stack, pool, settings)
        if validation is not None:
            gates.append(validation)
            return gates
    gates.append(ValidationNotRun(why_not))
    return gates


def _validation_gate(
    repo_root: Path, stack: ExitStack, pool: object, settings: Settings
) -> tuple[str, Gate | None]:
    """The engine's validation gate over this repository's val tasks, or why there is none."""
    from fnforge.engine.experiment import Experiment, ExperimentError
    from fnforge.engine.validation import ValidationGate
    from fnforge.function_repo import FunctionRepo

    try:
        exp = stack.enter_context(Experiment(FunctionRepo.open(repo_root), pool=pool))
    except ExperimentError as e:
        return str(e), None
    assert exp.scorer is not None
    inner = ValidationGate(exp.scorer, exp.val_tasks, settings.training.min_delta)
    return "", HandEditValidation(inner)
