"""Train, validation and test must not share a task, or every score of the run flatters it.

A task in both train and val lets the optimizer fit the very tasks that judge it; a task in
test and anywhere else unseals the test split. `shared_task` finds the first task two splits
share, by id or by the same question after normalisation (case, spacing), so `train`
can refuse to start and name it.

Ids are compared only where a split's file gave its tasks their own ids: a JSONL file without
an id field numbers its lines 0, 1, 2, ... (`evaluators/loading.py`), and line 0 of train is
not line 0 of val. Such a split is compared on question text alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

_SPACE = re.compile(r"\s+")


def normalised_question(task: Any) -> str:
    """What a task asks, case-folded with runs of whitespace made one space.

    That is all of what the agent is shown (`inputs`: the question, and a table, choices or
    unit where the dataset has them): TabMWP asks "Is the function linear?" of many tables.
    """
    inputs = getattr(task, "inputs", {}) or {}
    parts = [inputs["question"]] if set(inputs) == {"question"} else [inputs[k] for k in sorted(inputs)]
    text = " ".join(v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for v in parts)
    return _SPACE.sub(" ", text).strip().casefold()


def has_own_ids(tasks: Sequence[Any]) -> bool:
    """False when the ids are just positions 0..n-1 in file order (a file without an id field)."""
    return [str(t.id) for t in tasks] != [str(i) for i in range(len(tasks))]


def shared_task(splits: Mapping[str, Sequence[Any]]) -> str | None:
    """A one-line description of the first task two splits share (by id or question), or None.

    Splits are compared in the order given; within a split, tasks in file order.
    """
    seen_ids: dict[str, str] = {}
    seen_questions: dict[str, tuple[str, str]] = {}
    for split, tasks in splits.items():
        ids_here: set[str] = set()
        questions_here: set[str] = set()
        own = has_own_ids(tasks)
        for task in tasks:
            tid, question = str(task.id), normalised_question(task)
            if own and tid in seen_ids and tid not in ids_here:
                return f"task {tid!r} is in both {seen_ids[tid]} and {split} (same id)"
            if question in seen_questions and question not in questions_here:
                other_split, other_id = seen_questions[question]
                shown = question if len(question) <= 60 else question[:57] + "..."
                return (
                    f"task {tid!r} of {split} has the same question as task {other_id!r} of {other_split}: "
                    f"{shown!r}"
                )
            ids_here.add(tid)
            questions_here.add(question)
        for task in tasks:
            if own:
                seen_ids.setdefault(str(task.id), split)
            seen_questions.setdefault(normalised_question(task), (split, str(task.id)))
    return None


def refuse_shared_tasks(exp: Any, error: type[Exception]) -> None:
    """Raise `error` (the trainer's TrainingError) naming the first task train, val and (if set) test share.

    The test tasks are read here only to compare them; the trainer never receives them.
    """
    splits = {"train": exp.train_tasks, "val": exp.val_tasks}
    if exp.settings.data.test:
        splits["test"] = exp.sealed_test_tasks()
    shared = shared_task(splits)
    if shared:
        raise error(f"the splits overlap: {shared}; every task must be in one split only")
