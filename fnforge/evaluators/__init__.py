"""Evaluators: what a task is, how an agent's final answer is read, and how it is judged.

Training is only as good as this judgement: a checker that calls a right answer wrong (or
the reverse) makes the optimizer chase noise. Built in: GSM8K, TabMWP, MATH; a user's own
judge via `custom:module:function`. This package imports nothing from the other parts.
"""

from __future__ import annotations

from fnforge.evaluators.predictions import load_predictions
from fnforge.evaluators.registry import VALID_NAMES, get_evaluator
from fnforge.evaluators.scoring import CategoryScore, Score, score_outputs, wilson_interval
from fnforge.evaluators.task import Evaluator, EvaluatorError, ItemResult, Task

__all__ = [
    "CategoryScore",
    "Evaluator",
    "EvaluatorError",
    "ItemResult",
    "Score",
    "Task",
    "VALID_NAMES",
    "get_evaluator",
    "load_predictions",
    "score_outputs",
    "wilson_interval",
]
