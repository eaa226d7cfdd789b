"""Naming an evaluator: `gsm8k`, `tabmwp`, `math`, or `custom:module:function`."""

from __future__ import annotations

from pathlib import Path

from fnforge.evaluators.custom import CustomEvaluator
from fnforge.evaluators.gsm8k import GSM8KEvaluator
from fnforge.evaluators.math_problems import MathEvaluator
from fnforge.evaluators.tabmwp import TabMWPEvaluator
from fnforge.evaluators.task import Evaluator, EvaluatorError

BUILT_IN = {"gsm8k": GSM8KEvaluator, "tabmwp": TabMWPEvaluator, "math": MathEvaluator}
VALID_NAMES = "gsm8k, tabmwp, math or custom:module:function"


def get_evaluator(name: str, repo_root: Path | None = None) -> Evaluator:
    """The evaluator a task name stands for; custom judges are imported from `repo_root`."""
    key = name.strip()
    if key.lower() in BUILT_IN:
        return BUILT_IN[key.lower()]()
    if key.startswith("custom:"):
        parts = key.split(":")
        if len(parts) == 3 and all(parts[1:]):
            return CustomEvaluator(parts[1], parts[2], repo_root)
        raise EvaluatorError(
            f"task {name!r}: write a custom task as custom:module:function, e.g. custom:checks:judge"
        )
    raise EvaluatorError(f"unknown task {name!r}; use {VALID_NAMES}")
