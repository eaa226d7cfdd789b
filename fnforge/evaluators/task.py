"""What a task is and what every evaluator can do with one.

The engine, the CLI and the optimizer all speak about tasks without knowing which
benchmark they come from: a `Task` is what the agent sees plus the reference it is judged
against, and an `Evaluator` is the one object that knows a benchmark's file format, how to
ask the agent, how to read its final answer and how to judge it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from fnforge.evaluators.errors import EvaluatorError

__all__ = ["Evaluator", "EvaluatorError", "ItemResult", "Task"]

if TYPE_CHECKING:
    from fnforge.evaluators.loading import Record


class Task(BaseModel):
    """One problem: its id, what the agent sees, the reference answer, and its categories.

    `inputs` holds only what may be shown to the agent (question, table, choices, unit);
    `metadata` holds what may not or need not be (categories such as TabMWP `ques_type` or
    MATH `type`/`level`, used for per-category scores).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    inputs: dict[str, Any]
    reference: Any
    metadata: dict[str, Any] = Field(default_factory=dict)


class ItemResult(BaseModel):
    """The verdict on one task's output: what was read from it, against what, and the score.

    `missing` marks a task that had no output at all (counted wrong); `note` says why a
    verdict could not be reached normally (`timeout`: a MATH judgement that ran past its
    limit; a custom judge that raised).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    correct: bool
    extracted: str | None
    reference: str
    score: float
    missing: bool = False
    note: str = ""


class Evaluator(ABC):
    """A benchmark: load its tasks, render them for an agent, extract and judge answers.

    Subclasses implement `task` (one record), `render`, `extract` and `judge`; `categories` names the
    metadata keys that per-category scores are broken down by.
    """

    name: str = ""
    categories: tuple[str, ...] = ()
    # how many judgements may run at once (MATH: one per symbolic worker process)
    parallel_judging: int = 1

    def load(self, path: Path) -> list[Task]:
        """Every task of a data file at once (the dataset's own format or plain question/answer).

        Strict: the first bad record raises. Training reads its splits lazily instead
        (`sources.open_tasks`), through the same `task` conversion, one record when needed.
        """
        from fnforge.evaluators.loading import read_records

        return [self.task(record) for record in read_records(path)]

    @abstractmethod
    def task(self, record: Record) -> Task:
        """The task one raw record stands for; EvaluatorError naming `record.where` if it is not one."""

    @abstractmethod
    def render(self, task: Task) -> str:
        """The prompt text an agent gets for this task, ending with how to state the answer."""

    def direct_arguments(self, task: Task) -> dict[str, Any]:
        """Keyword arguments for an entry function in direct mode (default: the question)."""
        return {"question": str(task.inputs.get("question", ""))}

    @abstractmethod
    def extract(self, output: str) -> str | None:
        """The final answer stated in an agent's output, normalised, or None if there is none."""

    @abstractmethod
    def judge(self, task: Task, output: str) -> ItemResult:
        """Whether the output answers the task correctly; never raises on odd output."""

    def reference_text(self, task: Task) -> str:
        """The reference as a string, for reports."""
        return str(task.reference)

    def missing(self, task: Task) -> ItemResult:
        """The result for a task that got no output: wrong, and marked missing."""
        return ItemResult(
            id=task.id,
            correct=False,
            extracted=None,
            reference=self.reference_text(task),
            score=0.0,
            missing=True,
        )
