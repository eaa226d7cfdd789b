"""Evaluators: what a task is, how an agent's final answer is read, and how it is judged.

Training is only as good as this judgement: a checker that calls a right answer wrong (or
the reverse) makes the optimizer chase noise. Built in: GSM8K, TabMWP, MATH; a user's own
judge via `custom:module:function`. This package imports nothing from the other parts.

How answers are judged (the policies a user may want to know):
- The final answer is the last marked one (`#### x`, `\\boxed{x}`, `The answer is x`,
  `Answer: x`), else a final bold phrase, else the number of the last sentence that has one.
- GSM8K: exact numeric equality after removing currency, separators, units (float noise
  below 1e-9 is forgiven). TabMWP: numbers to three decimals as the dataset's own scorer
  does (two exact fractions must be equal), choices by letter or text, text case-blind.
- MATH: Math-Verify (HuggingFace) judges, reading the answer out of the output and
  comparing symbolically, in a killable worker under a time limit (5 s by default; an
  output not judged in time is wrong with note `timeout`). The verdict is Math-Verify's;
  fnforge gives it without asking only where Math-Verify's reading is certain (a sole
  `\\boxed{X}`, or prose ending on `The answer is N.`): the same spelling, two plain
  numbers, two everyday expressions that differ at sample points (`math_judge`).
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
