"""Rollouts on this machine: an asyncio fan-out on the engine's event loop over the sandbox pool.

`[executor] kind = "local"` (the default). Up to `concurrency` tasks run at once; judging runs
off the loop, at most as many at once as the evaluator judges in parallel. It guarantees
what every executor does (`base.py`): one outcome per task in task order, a task's failure as
an outcome with a reason, transcripts written to the step's log as tasks finish, and only a
broken setup (`LLMError`) raised. A Ray node runs its chunks with this very executor.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fnforge.config import Settings
from fnforge.engine.executors.base import Executor, RolloutReport, RolloutRequest, TaskOutcome
from fnforge.engine.llm import SEED_OFFSET, ChatModel, LLMError, Usage
from fnforge.engine.transcripts import Transcript


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
        llm: ChatModel | None,
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
        """Every task (times its repeats) as its own asyncio task, `concurrency` at a time."""
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
