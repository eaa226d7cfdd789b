"""The gates that judge a candidate, cheapest first, built where a step starts.

The gates before validation (static, policy, property tests in the sandbox) take only the
settings and the pool, so training and `fnforge apply` build them once and share their order.
The pre-check and validation gates take the step's own inputs (the batch tasks the head
failed, the head's calls per task), so the trainer builds them for each step: no gate is
changed between steps, and a gate's figures live only in its verdict's details.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnforge.config import SandboxSettings
from fnforge.engine.experiment import Experiment
from fnforge.engine.precheck import PrecheckGate
from fnforge.engine.validation import validation_gate


def candidate_gates(sandbox: SandboxSettings, pool: Any) -> list[Any]:
    """The gates before validation, cheapest first: static, policy, property tests in `pool`.

    Training and `fnforge apply` both judge a candidate with these, so their order and
    their settings live here once.
    """
    from fnforge.function_repo import StaticGate
    from fnforge.sandbox import PolicyGate, PropertyGate, image_module_facts

    # the packages the pool's own sandbox offers: the policy allows what the property tests can import
    policy = PolicyGate(pool.packages(), image_module_facts(sandbox))
    return [StaticGate(), policy, PropertyGate(pool, sandbox)]


def training_gates(
    exp: Experiment,
    before: Sequence[Any],
    failed: Sequence[Any],
    head_calls_per_task: float = 1.0,
    heads: Any = None,
) -> list[Any]:
    """One training step's gates: `before` (the candidate gates), the pre-check on the batch tasks
    the head `failed` (when `[training] precheck` is on), then validation (`heads`: the head's
    per-task validation scores the run keeps for sequential validation)."""
    assert exp.scorer is not None, "the experiment is not open"
    scorer = exp.scorer
    precheck = (
        [PrecheckGate(scorer, exp.val_tasks, failed, head_calls_per_task)]
        if exp.settings.training.precheck
        else []
    )
    return [*before, *precheck, validation_gate(scorer, exp.val_tasks, exp.settings, exp.val_sample, heads)]
