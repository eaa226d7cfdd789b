"""Scores of a function set on a set of tasks, comparable between sets.

The engine accepts an edit only if validation improves, and the optimizer learns from the
tasks an edit fixed or broke; so a score keeps every task's result, not just the accuracy,
and carries a Wilson interval so that a reader can see when a difference is noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict

from fnforge.evaluators.task import Evaluator, ItemResult, Task

Z_95 = 1.959963984540054


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


class CategoryScore(BaseModel):
    """Accuracy within one category value (e.g. TabMWP `ques_type` = `multi_choice`)."""

    model_config = ConfigDict(frozen=True)

    n: int
    correct: int
    accuracy: float


class Score(BaseModel):
    """Accuracy, its 95% Wilson interval, what was missing, and every task's result."""

    model_config = ConfigDict(frozen=True)

    n: int
    correct: int
    accuracy: float
    interval: tuple[float, float]
    missing: int
    items: dict[str, ItemResult]
    by_category: dict[str, dict[str, CategoryScore]] = {}

    @classmethod
    def from_results(
        cls, results: Iterable[ItemResult], tasks: Iterable[Task] = (), categories: Iterable[str] = ()
    ) -> Score:
        """A score from item results; categories are read from the tasks' metadata."""
        items = {r.id: r for r in results}
        n = len(items)
        correct = sum(r.correct for r in items.values())
        by_category: dict[str, dict[str, list[int]]] = {}
        for task in tasks:
            result = items.get(task.id)
            if result is None:
                continue
            for key in categories:
                if key in task.metadata:
                    counts = by_category.setdefault(key, {}).setdefault(str(task.metadata[key]), [0, 0])
                    counts[0] += 1
                    counts[1] += int(result.correct)
        return cls(
            n=n,
            correct=correct,
            accuracy=correct / n if n else 0.0,
            interval=wilson_interval(correct, n),
            missing=sum(r.missing for r in items.values()),
            items=items,
            by_category={
                key: {
                    value: CategoryScore(n=c[0], correct=c[1], accuracy=c[1] / c[0])
                    for value, c in sorted(values.items())
                }
                for key, values in by_category.items()
            },
        )

    def flipped(self, other: Score) -> dict[str, list[str]]:
        """Tasks this score gets right that `other` got wrong ("fixed"), and the reverse ("broken")."""
        shared = [i for i in self.items if i in other.items]
        return {
            "fixed": [i for i in shared if self.items[i].correct and not other.items[i].correct],
            "broken": [i for i in shared if not self.items[i].correct and other.items[i].correct],
        }

    def to_dict(self, per_item: bool = True) -> dict[str, Any]:
        """Plain JSON-ready data (with every item's result unless per_item is False)."""
        data = self.model_dump(mode="json")
        if not per_item:
            data.pop("items")
        return data


def score_outputs(evaluator: Evaluator, tasks: Iterable[Task], outputs: Mapping[str, str | None]) -> Score:
    """Judge every task's output; a task with no output (absent or None) is missing and wrong."""
    tasks = list(tasks)

    def one(task: Task) -> ItemResult:
        output = outputs.get(task.id)
        return evaluator.missing(task) if output is None else evaluator.judge(task, output)

    if evaluator.parallel_judging > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=evaluator.parallel_judging) as pool:
            results = list(pool.map(one, tasks))
    else:
        results = [one(task) for task in tasks]
    return Score.from_results(results, tasks, evaluator.categories)
