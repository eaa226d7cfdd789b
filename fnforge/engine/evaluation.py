"""Scoring a function set: the agent on a list of tasks, concurrently, judged by the evaluator.

The trainer scores the head on each training batch, and the validation gate scores head and
candidate on the validation tasks. Both go through `Scorer`, which runs up to `concurrency`
tasks at once (async model calls, sandbox calls on worker threads), turns every failure of
a task into a value on its transcript, and caches a score by (function-set hash, task list)
so that the head's validation score is computed once per set and then reused.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.config import Settings
from fnforge.engine.agent import make_agent
from fnforge.engine.background import BackgroundLoop
from fnforge.engine.llm import LLMClient, LLMError, Usage
from fnforge.engine.transcripts import Transcript, TranscriptLog


def set_hash(functions: Mapping[str, str]) -> str:
    """A content hash of a function set (names and sources), the key of its cached scores."""
    data = json.dumps(sorted(functions.items()), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def tasks_hash(tasks: Sequence[Any]) -> str:
    """A hash of a task list's ids, to key scores of the same set on different task lists."""
    return hashlib.sha256("\n".join(str(t.id) for t in tasks).encode()).hexdigest()[:16]


@dataclass
class Evaluation:
    """A function set's score on some tasks, with each task's transcript."""

    score: Any  # fnforge.evaluators.Score
    transcripts: list[Transcript]
    set_hash: str
    duration_s: float = 0.0
    usage: Usage = field(default_factory=Usage)

    @property
    def accuracy(self) -> float:
        """The fraction of tasks judged correct."""
        return float(self.score.accuracy)

    def summary(self) -> dict[str, Any]:
        """Plain data for a note: accuracy, n, interval, duration."""
        interval = getattr(self.score, "interval", None)
        return {
            "accuracy": round(self.accuracy, 6),
            "n": int(self.score.n),
            "correct": int(self.score.correct),
            "interval": [round(float(x), 6) for x in interval] if interval else None,
            "duration_s": round(self.duration_s, 3),
            "set": self.set_hash,
        }


class Scorer:
    """Scores function sets with the configured agent, `concurrency` tasks at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        llm: LLMClient | None,
        pool: Any,
        evaluator: Any,
        background: BackgroundLoop,
        concurrency: int | None = None,
    ):
        self.settings = settings
        self.llm = llm
        self.pool = pool
        self.evaluator = evaluator
        self.background = background
        self.concurrency = concurrency or settings.training.concurrency
        self._cache: dict[tuple[str, str], Evaluation] = {}
        self.log: TranscriptLog | None = None  # the current step's transcript file
        # called on the engine's loop thread as tasks finish: (split, done, total)
        self.on_task: Callable[[str, int, int], None] | None = None

    def cached(self, functions: Mapping[str, str], tasks: Sequence[Any]) -> Evaluation | None:
        """A score computed earlier for the same set and tasks, if any."""
        return self._cache.get((set_hash(functions), tasks_hash(tasks)))

    def score(self, functions: Mapping[str, str], tasks: Sequence[Any], *, split: str) -> Evaluation:
        """Score a set on tasks (blocking; reuses a cached score of the same set and tasks)."""
        hit = self.cached(functions, tasks)
        if hit is not None:
            return hit
        return self.background.run(self.ascore(functions, tasks, split=split))

    async def ascore(self, functions: Mapping[str, str], tasks: Sequence[Any], *, split: str) -> Evaluation:
        """Score a set on tasks from inside the engine's event loop."""
        from fnforge.evaluators import score_outputs

        key = (set_hash(functions), tasks_hash(tasks))
        if key in self._cache:
            return self._cache[key]
        t0 = time.perf_counter()
        before = self.llm.usage.copy() if self.llm is not None else Usage()
        agent = make_agent(self.settings, functions, llm=self.llm, pool=self.pool, evaluator=self.evaluator)
        gate = asyncio.Semaphore(self.concurrency)
        done = [0]

        def finished() -> None:
            done[0] += 1
            if self.on_task is not None:
                self.on_task(split, done[0], len(tasks))

        async def one(task: Any) -> Transcript:
            async with gate:
                try:
                    tr = await agent.run(task)
                    finished()
                    return tr
                except LLMError:
                    raise  # the setup is broken (key, endpoint, offline miss): stop the run
                except Exception as exc:  # noqa: BLE001 - a task's failure is a value
                    tr = Transcript(task_id=str(task.id), mode=agent.mode)
                    tr.error = f"{type(exc).__name__}: {exc}"
                    tr.add("error", message=tr.error)
                    finished()
                    return tr

        try:
            async with asyncio.TaskGroup() as group:
                jobs = [group.create_task(one(t)) for t in tasks]
        except BaseExceptionGroup as eg:  # the first setup failure, as itself (not a group)
            raise eg.exceptions[0] from None
        transcripts = [j.result() for j in jobs]
        outputs = {tr.task_id: tr.output for tr in transcripts}
        # judging can be slow (MATH symbolic checks run up to their time limit): off the loop
        score = await asyncio.to_thread(score_outputs, self.evaluator, list(tasks), outputs)
        for tr in transcripts:
            item = score.items.get(tr.task_id)
            if item is not None:
                tr.correct = bool(item.correct)
                tr.extracted = item.extracted
                tr.reference = item.reference
            if self.log is not None:
                self.log.write(tr, split=split, set=key[0])
        usage = (self.llm.usage - before) if self.llm is not None else Usage()
        ev = Evaluation(score, transcripts, key[0], time.perf_counter() - t0, usage)
        self._cache[key] = ev
        return ev
