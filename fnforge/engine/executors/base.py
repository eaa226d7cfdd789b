"""Where rollouts run: the one seam between scoring a function set and the machinery that runs it.

An evaluation is many independent rollouts: the agent with a function set on one task (model
calls plus sandbox calls), then the evaluator's verdict on its output. The `Scorer` decides
*what* to evaluate and keeps the scores; an `Executor` decides *where* the rollouts run.
What varies is the machinery (`local.py`: an asyncio fan-out on this machine; `ray/`: Ray tasks
on a cluster); `[executor] kind` names it and `experiment.choose_executor` builds it.

Every executor returns the same thing: one compact `TaskOutcome` per task (the verdict and a
short reason, never the transcript), the model usage of the rollouts, and where the
transcripts were written. Transcripts go to the step's `TranscriptLog` as each task finishes,
so nothing in memory grows with the number of tasks or steps. The trainer, the gates and the
store never see which executor ran; swapping it changes no score.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnforge.engine.llm import Usage
from fnforge.engine.transcripts import Transcript, TranscriptLog

# called as tasks finish: (done, total)
TaskDone = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One task's rollout, compact: what a score and the optimizer need, nothing more.

    `result` is the evaluator's `ItemResult` (correct, extracted, reference, note); `reason`
    says why a task ended without a usable answer (`truncated`, `refused`, `timeout`, `error`,
    `max_turns`...), None when the agent answered.
    """

    task_id: str
    result: Any  # fnforge.evaluators.ItemResult
    reason: str | None = None
    turns: int = 0
    duration_s: float = 0.0

    @property
    def correct(self) -> bool:
        """Whether the evaluator judged the output right."""
        return bool(self.result.correct)


@dataclass
class RolloutReport:
    """What an executor returns for one evaluation: outcomes in task order, usage, transcript file."""

    outcomes: list[TaskOutcome]
    usage: Usage = field(default_factory=Usage)
    transcripts: Path | None = None
    # transcripts kept in memory only when the caller asked (a train batch for the optimizer)
    kept: list[Transcript] = field(default_factory=list)


@dataclass(frozen=True)
class RolloutRequest:
    """One evaluation to run: a function set on tasks, labelled with the split for logs and progress."""

    functions: Mapping[str, str]
    tasks: Sequence[Any]
    split: str
    set_hash: str
    log: TranscriptLog | None = None
    keep_transcripts: bool = False
    on_done: TaskDone | None = None
    # each task run this many times, repeat r with [llm] seed + r (`llm.SEED_OFFSET`); outcomes
    # come back task by task, the repeats of a task next to each other
    repeats: int = 1


class Executor(ABC):
    """Runs the rollouts of an evaluation somewhere; the Scorer never knows where."""

    kind: str = ""

    @abstractmethod
    async def run(self, request: RolloutRequest) -> RolloutReport:
        """Run the agent on every task and judge each output; a task's failure is an outcome.

        Only a failure of the setup itself (`LLMError`: bad key, unreachable endpoint, offline
        cache miss) propagates: no score would be trustworthy after it.
        """

    def close(self) -> None:  # noqa: B027 - optional hook; the local executor owns nothing
        """Release what the executor holds (cluster connections, remote pools)."""
