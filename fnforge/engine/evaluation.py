"""Scoring a function set: the agent on a list of tasks, judged by the evaluator, kept compact.

The trainer scores the head on each training batch, and the validation gate scores head and
candidate on the validation tasks. Both go through `Scorer`, which hands the rollouts to an
executor (`executors/`: local asyncio fan-out by default, Ray on a cluster), builds the score
from the compact per-task outcomes it gets back, and caches a few recent scores by
(function-set hash, task list) so that the head's validation score is computed once per set
and then reused. Transcripts are written to the step's log by whoever ran the task; the
scorer holds them only for a train batch the optimizer is about to read, so its memory does
not grow with the number of tasks or steps.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.engine.background import BackgroundLoop
from fnforge.engine.executors.base import Executor, RolloutRequest, TaskOutcome
from fnforge.engine.llm import Usage
from fnforge.engine.transcripts import Transcript, TranscriptLog
from fnforge.protocol import set_hash

# scores kept for reuse: the head's validation score is asked for every step, so it stays
CACHED_SCORES = 8


def tasks_hash(tasks: Sequence[Any]) -> str:
    """A hash of a task list's ids, to key scores of the same set on different task lists."""
    return hashlib.sha256("\n".join(str(t.id) for t in tasks).encode()).hexdigest()[:16]


@dataclass
class Evaluation:
    """A function set's score on some tasks: per-task verdicts, why tasks failed, usage.

    `transcripts` is filled only when the caller asked to keep them (a train batch for the
    optimizer); every transcript is on disk in the step's log either way.
    """

    score: Any  # fnforge.evaluators.Score
    set_hash: str
    duration_s: float = 0.0
    usage: Usage = field(default_factory=Usage)
    reasons: dict[str, int] = field(default_factory=dict)
    transcripts: list[Transcript] = field(default_factory=list)
    # each task's share of correct rollouts when it ran more than once (`[training] repeats`)
    means: dict[str, float] | None = None
    repeats: int = 1

    @property
    def accuracy(self) -> float:
        """The fraction of tasks judged correct (over repeats: the mean of each task's share)."""
        if self.means:
            return sum(self.means.values()) / len(self.means)
        return float(self.score.accuracy)

    def task_scores(self) -> dict[str, float]:
        """Each task's score in [0, 1]: 0/1, or the share of its repeats judged correct."""
        if self.means is not None:
            return dict(self.means)
        return {i: float(r.correct) for i, r in self.score.items.items()}

    def summary(self) -> dict[str, Any]:
        """Plain data for a note: accuracy, n, interval, duration, why tasks ended without answer."""
        interval = getattr(self.score, "interval", None)
        data = {
            "accuracy": round(self.accuracy, 6),
            "n": int(self.score.n),
            "correct": int(self.score.correct),
            "interval": [round(float(x), 6) for x in interval] if interval and not self.means else None,
            "duration_s": round(self.duration_s, 3),
            "set": self.set_hash,
        }
        if self.repeats > 1:
            data["repeats"] = self.repeats
        if self.reasons:
            data["reasons"] = dict(sorted(self.reasons.items()))
        return data


class Scorer:
    """Scores function sets through an executor, which runs the rollouts wherever it runs them.

    The executor is built once by `experiment.choose_executor` (or a test's own); the scorer
    never learns where rollouts run, and holds only what scoring itself needs: the evaluator
    (its categories break a score down), the engine's event loop, and the repeats per task.
    """

    def __init__(
        self,
        executor: Executor,
        *,
        evaluator: Any,
        background: BackgroundLoop,
        repeats: int = 1,
    ):
        self.executor = executor
        self.evaluator = evaluator
        self.background = background
        self.repeats = max(1, repeats)  # rollouts per task, except a train batch the optimizer reads
        self._cache: OrderedDict[tuple[str, str], Evaluation] = OrderedDict()
        self.log: TranscriptLog | None = None  # the current step's transcript file
        # called on the engine's loop thread as tasks finish: (split, done, total)
        self.on_task: Callable[[str, int, int], None] | None = None

    def cached(self, functions: Mapping[str, str], tasks: Sequence[Any]) -> Evaluation | None:
        """A score computed earlier for the same set and tasks, if any (and still kept)."""
        return self._hit((set_hash(functions), tasks_hash(tasks)))

    def _hit(self, key: tuple[str, str]) -> Evaluation | None:
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)  # recently used: the head's score stays kept
        return hit

    def score(
        self,
        functions: Mapping[str, str],
        tasks: Sequence[Any],
        *,
        split: str,
        keep_transcripts: bool = False,
    ) -> Evaluation:
        """Score a set on tasks (blocking; reuses a cached score of the same set and tasks).

        `keep_transcripts=True` returns the transcripts in memory too (never from the cache).
        """
        return self.background.run(
            self.ascore(functions, tasks, split=split, keep_transcripts=keep_transcripts)
        )

    async def ascore(
        self,
        functions: Mapping[str, str],
        tasks: Sequence[Any],
        *,
        split: str,
        keep_transcripts: bool = False,
    ) -> Evaluation:
        """Score a set on tasks from inside the engine's event loop."""
        from fnforge.evaluators import Score

        key = (set_hash(functions), tasks_hash(tasks))
        if not keep_transcripts and (hit := self._hit(key)) is not None:
            return hit
        t0 = time.perf_counter()
        repeats = 1 if keep_transcripts else self.repeats

        def done(n: int, total: int) -> None:
            if self.on_task is not None:
                self.on_task(split, n, total)

        report = await self.executor.run(
            RolloutRequest(
                functions=dict(functions),
                tasks=tasks,
                split=split,
                set_hash=key[0],
                log=self.log,
                keep_transcripts=keep_transcripts,
                on_done=done,
                repeats=repeats,
            )
        )
        means = _means(report.outcomes) if repeats > 1 else None
        firsts = report.outcomes[::repeats]
        score = Score.from_results([o.result for o in firsts], tasks, self.evaluator.categories)
        ev = Evaluation(
            score=score,
            set_hash=key[0],
            duration_s=time.perf_counter() - t0,
            usage=report.usage,
            reasons=_reasons(report.outcomes),
            transcripts=report.kept,
            means=means,
            repeats=repeats,
        )
        if repeats == self.repeats:  # a 1-repeat train batch is no answer to a k-repeat question
            self._remember(key, ev)
        return ev

    def _remember(self, key: tuple[str, str], ev: Evaluation) -> None:
        kept = Evaluation(  # no transcripts
            ev.score, ev.set_hash, ev.duration_s, ev.usage, ev.reasons, means=ev.means, repeats=ev.repeats
        )
        self._cache[key] = kept
        self._cache.move_to_end(key)
        while len(self._cache) > CACHED_SCORES:
            self._cache.popitem(last=False)


def _means(outcomes: Sequence[TaskOutcome]) -> dict[str, float]:
    """Each task's share of correct outcomes over its repeats."""
    runs: dict[str, list[int]] = {}
    for o in outcomes:
        runs.setdefault(o.task_id, []).append(int(o.correct))
    return {task: sum(r) / len(r) for task, r in runs.items()}


def _reasons(outcomes: Sequence[TaskOutcome]) -> dict[str, int]:
    return dict(Counter(o.reason for o in outcomes if o.reason))
