"""Where rollouts run: the one seam between scoring a function set and the machinery that runs it.

An evaluation is many independent rollouts: the agent with a function set on one task (model
calls plus sandbox calls), then the evaluator's verdict on its output. The `Scorer` decides
*what* to evaluate and keeps the scores; an `Executor` decides *where* the rollouts run:

- `LocalExecutor` (the default): an asyncio fan-out on this machine's event loop, `concurrency`
  tasks at a time over the sandbox pool;
- a Ray executor (`[executor] kind = "ray"`) runs the same rollouts as Ray tasks on a cluster.

Both return the same thing: one compact `TaskOutcome` per task (the verdict and a short reason,
never the transcript), the model usage of the rollouts, and where the transcripts were written.
Transcripts go to the step's `TranscriptLog` as each task finishes, so nothing in memory grows
with the number of tasks or steps. The trainer, the gates and the store never see which
executor ran; swapping it changes no score.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnforge.config import Settings
from fnforge.engine.llm import SEED_OFFSET, LLMClient, LLMError, Usage
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


def judge_transcript(evaluator: Any, task: Any, tr: Transcript) -> Any:
    """The evaluator's verdict on a transcript's output (a task with no output is missing, wrong).

    The verdict is written onto the transcript, with a reason when there was no answer.
    """
    result = evaluator.missing(task) if tr.output is None else evaluator.judge(task, tr.output)
    tr.correct = bool(result.correct)
    tr.extracted = result.extracted
    tr.reference = result.reference
    if tr.reason is None and tr.output is None:
        tr.reason = "error" if tr.error else "no_answer"
    return result


def failed_transcript(task: Any, mode: str, exc: BaseException) -> Transcript:
    """The transcript of a task whose rollout raised: the error is a value, the task is wrong."""
    tr = Transcript(task_id=str(task.id), mode=mode)
    tr.error = f"{type(exc).__name__}: {exc}"
    tr.reason = "error"
    tr.add("error", message=tr.error)
    return tr


def outcome_of(tr: Transcript, result: Any) -> TaskOutcome:
    """The compact outcome of a judged transcript."""
    return TaskOutcome(
        task_id=tr.task_id, result=result, reason=tr.reason, turns=tr.turns, duration_s=tr.duration_s
    )


class LocalExecutor(Executor):
    """Rollouts on this machine: up to `concurrency` tasks at once on the engine's event loop."""

    kind = "local"

    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLMClient | None,
        pool: Any,
        evaluator: Any,
        concurrency: int | None = None,
    ):
        self.settings = settings
        self.llm = llm
        self.pool = pool
        self.evaluator = evaluator
        self.concurrency = concurrency or settings.training.concurrency

    async def run(self, request: RolloutRequest) -> RolloutReport:
        from fnforge.engine.agent import make_agent

        before = self.llm.usage.copy() if self.llm is not None else Usage()
        agent = make_agent(
            self.settings, request.functions, llm=self.llm, pool=self.pool, evaluator=self.evaluator
        )
        gate = asyncio.Semaphore(self.concurrency)
        judging = asyncio.Semaphore(max(1, int(getattr(self.evaluator, "parallel_judging", 1))))
        repeats = max(1, request.repeats)
        total = len(request.tasks) * repeats
        done = 0
        kept: dict[str, Transcript] = {}

        async def one(task: Any, repeat: int = 0) -> TaskOutcome:
            nonlocal done
            SEED_OFFSET.set(repeat)  # this task's own context: other rollouts keep theirs
            async with gate:
                try:
                    tr = await agent.run(task)
                except LLMError:
                    raise  # the setup is broken (key, endpoint, offline miss): stop the evaluation
                except Exception as exc:  # noqa: BLE001 - a task's failure is a value
                    tr = failed_transcript(task, agent.mode, exc)
            # judging can be slow (MATH symbolic checks run up to their time limit): off the loop,
            # at most as many at once as the evaluator can judge in parallel
            async with judging:
                result = await asyncio.to_thread(judge_transcript, self.evaluator, task, tr)
            if request.log is not None:
                request.log.write(tr, split=request.split, set=request.set_hash)
            if request.keep_transcripts and repeat == 0:
                kept[tr.task_id] = tr
            done += 1
            if request.on_done is not None:
                request.on_done(done, total)
            return outcome_of(tr, result)

        try:
            async with asyncio.TaskGroup() as group:
                jobs = [group.create_task(one(t, r)) for t in request.tasks for r in range(repeats)]
        except BaseExceptionGroup as eg:  # the first setup failure, as itself (not a group)
            raise eg.exceptions[0] from None
        outcomes = [j.result() for j in jobs]
        usage = (self.llm.usage - before) if self.llm is not None else Usage()
        return RolloutReport(
            outcomes=outcomes,
            usage=usage,
            transcripts=request.log.path if request.log is not None else None,
            kept=[kept[o.task_id] for o in outcomes[::repeats] if o.task_id in kept],
        )
