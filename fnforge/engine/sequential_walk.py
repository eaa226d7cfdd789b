"""Scoring a candidate chunk by chunk along the validation order until the sequential rule decides.

The validation gate in sequential mode hands this walk the scorer, the validation split (a
`Sequence` indexed, never copied whole), the run's one seeded order (`validation_order`) and a
fresh `SequentialTest`. Each chunk of the order is scored for the head and the candidate and
fed to the test; the walk ends at the first decision. The head's per-task results are kept in
`HeadScores`, keyed by the head set's hash and the task's id, across the steps of a run: every
candidate walks the same order in the same chunks, so the head is scored on each validation
task at most once per head set, and a replay asks the same requests in the same order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.engine.evaluation import Scorer, set_hash
from fnforge.engine.sequential import SequentialDecision, SequentialTest, chunk_size

KEPT_HEADS = 4  # head sets whose per-task validation scores are kept


class HeadScores:
    """Per-task validation scores of recent head sets: (set hash, task id) -> score in [0, 1]."""

    def __init__(self, kept: int = KEPT_HEADS):
        self.kept = kept
        self._sets: OrderedDict[str, dict[str, float]] = OrderedDict()

    def known(self, set_key: str) -> dict[str, float]:
        """The scores kept for a set (a live dict: the walk adds to it)."""
        scores = self._sets.setdefault(set_key, {})
        self._sets.move_to_end(set_key)
        while len(self._sets) > self.kept:
            self._sets.popitem(last=False)
        return scores


@dataclass
class Walk:
    """How a sequential validation went: the decision, both sets' per-task scores, the evaluations' usage."""

    decision: SequentialDecision
    head: dict[str, float] = field(default_factory=dict)
    candidate: dict[str, float] = field(default_factory=dict)
    usage: Any = None  # engine.llm.Usage of the rollouts this walk ran (head and candidate)
    head_scored: int = 0  # head rollouts this walk ran (the rest were reused)


def walk(
    scorer: Scorer,
    val_tasks: Sequence[Any],
    order: Sequence[int],
    head_functions: Any,
    cand_functions: Any,
    test: SequentialTest,
    *,
    chunk: int,
    heads: HeadScores,
) -> Walk:
    """Score chunk after chunk of `order` until `test` decides (it always does at the last chunk)."""
    known = heads.known(set_hash(head_functions))
    size = chunk_size(len(order), chunk)
    result = Walk(decision=None)  # type: ignore[arg-type] - set before returning
    for start in range(0, len(order), size):
        tasks = [val_tasks[i] for i in order[start : start + size]]
        missing = [t for t in tasks if str(t.id) not in known]
        if missing:
            ev = scorer.score(head_functions, missing, split="val-head")
            known.update(ev.task_scores())
            result.head_scored += len(missing)
            result.usage = ev.usage if result.usage is None else result.usage + ev.usage
        cand = scorer.score(cand_functions, tasks, split="val-candidate")
        result.usage = cand.usage if result.usage is None else result.usage + cand.usage
        head_part = {str(t.id): known[str(t.id)] for t in tasks if str(t.id) in known}
        cand_part = cand.task_scores()
        result.head.update(head_part)
        result.candidate.update(cand_part)
        found = test.observe(head_part, cand_part)
        if found is not None:
            result.decision = found
            return result
    raise AssertionError("the sequential test decides at the last chunk")
