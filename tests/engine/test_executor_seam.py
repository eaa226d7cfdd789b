"""The executor seam: the Scorer's result does not depend on where the rollouts ran.

A scorer hands rollouts to an executor and gets compact per-task outcomes back; transcripts
go to the step's log as tasks finish. These tests run real rollouts (direct mode, the real
Docker sandbox) through the local executor and through a second executor that runs the
same tasks one at a time in reverse order, and check that scores, per-task verdicts and the
log agree, that failures are outcomes with a reason, and that the scorer keeps no
transcripts unless asked and only a bounded number of scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fnforge.config import Settings
from fnforge.engine.background import BackgroundLoop
from fnforge.engine.evaluation import CACHED_SCORES, Scorer
from fnforge.engine.executors.base import Executor, RolloutReport, RolloutRequest
from fnforge.engine.executors.local import LocalExecutor
from fnforge.engine.transcripts import TranscriptLog
from fnforge.evaluators import get_evaluator

ADD = '''"""Adds the two numbers of a question."""

import re

PACKAGES = []


def solve(question: str) -> str:
    """The sum of the first two whole numbers in the question; crashes when there are none."""
    a, b = (int(x) for x in re.findall(r"\\d+", question)[:2])
    return str(a + b)
'''


class OneAtATimeReversed(Executor):
    """A different executor: the same local rollouts, sequentially, last task first."""

    kind = "reversed"

    def __init__(self, inner: LocalExecutor):
        self.inner = inner

    async def run(self, request: RolloutRequest) -> RolloutReport:
        reports = []
        for task in reversed(list(request.tasks)):
            single = RolloutRequest(
                request.functions,
                [task],
                request.split,
                request.set_hash,
                request.log,
                request.keep_transcripts,
            )
            reports.append(await self.inner.run(single))
        by_id = {o.task_id: o for r in reports for o in r.outcomes}
        return RolloutReport(
            outcomes=[by_id[str(t.id)] for t in request.tasks],
            transcripts=request.log.path if request.log else None,
        )


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> list:
    path = tmp_path_factory.mktemp("data") / "tasks.jsonl"
    rows = [
        {"id": f"t{i}", "question": f"What is {i} plus {i + 1}?", "answer": f"#### {2 * i + 1}"}
        for i in range(6)
    ]
    rows[4]["answer"] = "#### 1000"  # the set gets this one wrong
    rows.append(
        {"id": "t6", "question": "What is nothing plus nothing?", "answer": "#### 0"}
    )  # it crashes here
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return get_evaluator("gsm8k").load(path)


def _scorer(docker_pool, loop: BackgroundLoop, executor: Executor | None = None) -> Scorer:
    settings = Settings.model_validate({"agent": {"mode": "direct"}, "sandbox": {"backend": "docker"}})
    evaluator = get_evaluator("gsm8k")
    executor = executor or LocalExecutor(settings, llm=None, pool=docker_pool, evaluator=evaluator)
    return Scorer(executor, evaluator=evaluator, background=loop)


def test_two_executors_give_the_same_score_verdicts_and_log(tmp_path: Path, tasks, docker_pool) -> None:
    with BackgroundLoop(threads=8) as loop:
        local = _scorer(docker_pool, loop)
        local.log = TranscriptLog(tmp_path / "local.jsonl")
        a = local.score({"solve": ADD}, tasks, split="val")
        other = _scorer(docker_pool, loop, OneAtATimeReversed(local.executor))
        other.log = TranscriptLog(tmp_path / "other.jsonl")
        b = other.score({"solve": ADD}, tasks, split="val")
    assert (a.score.correct, a.score.n) == (b.score.correct, b.score.n) == (5, 7)
    assert {k: v.correct for k, v in a.score.items.items()} == {
        k: v.correct for k, v in b.score.items.items()
    }
    assert a.reasons == b.reasons == {"error": 1}
    assert a.transcripts == [] and b.transcripts == []  # nothing kept in memory unless asked
    for log in (local.log, other.log):
        lines = log.read()
        assert sorted(x["task_id"] for x in lines) == sorted(str(t.id) for t in tasks)
        crashed = next(x for x in lines if x["task_id"] == "t6")
        assert (
            crashed["correct"] is False and crashed["reason"] == "error" and "ValueError" in crashed["error"]
        )


def test_kept_transcripts_and_a_bounded_score_cache(tasks, docker_pool) -> None:
    with BackgroundLoop(threads=8) as loop:
        scorer = _scorer(docker_pool, loop)
        ev = scorer.score({"solve": ADD}, tasks, split="train", keep_transcripts=True)
        assert [t.task_id for t in ev.transcripts] == [str(t.id) for t in tasks]
        assert all(t.correct is not None for t in ev.transcripts)
        assert scorer.cached({"solve": ADD}, tasks).transcripts == []  # the cache holds no transcripts
        for i in range(CACHED_SCORES + 2):  # many sets on one task: old scores are dropped
            variant = ADD.replace("a + b", f"a + b + {i} - {i}")
            scorer.score({"solve": variant}, tasks[:1], split="val")
    assert len(scorer._cache) == CACHED_SCORES
    assert scorer.cached({"solve": ADD}, tasks) is None
