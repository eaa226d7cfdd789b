"""Train, validation and test must not share a task, or every score of the run flatters it.

A task in both train and val lets the optimizer fit the very tasks that judge it; a task in
test and anywhere else unseals the test split. `shared_task` finds the first task two splits
share, by id or by the same question after normalisation (case, spacing), so `train`
can refuse to start and name it.

It streams: each split is compared through 64-bit hashes of its ids and normalised questions,
in numpy arrays (a lazy split's index already holds them, so a split of a million tasks is
compared without reading one), and only a hash two splits share is confirmed by reading the two
tasks, so a hash collision never refuses a run and the refusal still names the task.

Ids are compared only where a split's file gave its tasks their own ids: a JSONL file without
an id field numbers its lines 0, 1, 2, ... (`evaluators/loading.py`), and line 0 of train is
not line 0 of val. Such a split is compared on question text alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fnforge.evaluators.task_keys import key_hash, normalised_question

__all__ = ["has_own_ids", "normalised_question", "shared_task"]


def has_own_ids(tasks: Sequence[Any]) -> bool:
    """False when the ids are just positions 0..n-1 in file order (a file without an id field)."""
    own = getattr(tasks, "own_ids", None)
    if own is not None:
        return bool(own)
    return [str(t.id) for t in tasks] != [str(i) for i in range(len(tasks))]


@dataclass
class _Keys:
    """One split's hashes, in task order, and (for a split others are compared with) sorted."""

    name: str
    tasks: Sequence[Any]
    ids: np.ndarray
    texts: np.ndarray
    own: bool

    def sorted(self) -> tuple[np.ndarray, np.ndarray]:
        ready = getattr(self.tasks, "sorted_key_hashes", None)
        return ready() if ready is not None else (np.sort(self.ids), np.sort(self.texts))


def _member(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Which of `values` are in `sorted_values` (binary search: nothing copied, few pages read)."""
    if not len(sorted_values) or not len(values):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return np.asarray(sorted_values)[at] == values


def _keys(name: str, tasks: Sequence[Any]) -> _Keys:
    hashes = getattr(tasks, "key_hashes", None)
    if hashes is not None:  # a lazy split: from its index
        ids, texts = hashes()
    else:
        ids = np.fromiter((key_hash(str(t.id)) for t in tasks), dtype=np.uint64, count=len(tasks))
        texts = np.fromiter(
            (key_hash(normalised_question(t)) for t in tasks), dtype=np.uint64, count=len(tasks)
        )
    return _Keys(name, tasks, np.asarray(ids), np.asarray(texts), has_own_ids(tasks))


def shared_task(splits: Mapping[str, Sequence[Any]]) -> str | None:
    """A one-line description of the first task two splits share (by id or question), or None.

    Splits are compared in the order given; within a split, tasks in file order.
    """
    earlier: list[_Keys] = []
    for name, tasks in splits.items():
        here = _keys(name, tasks)
        found = _first_shared(here, earlier)
        if found:
            return found
        earlier.append(here)
    return None


def _first_shared(here: _Keys, earlier: list[_Keys]) -> str | None:
    """The first task of `here` that an earlier split has, confirmed by reading both tasks."""
    own_earlier = [k for k in earlier if k.own]
    id_hits = np.zeros(len(here.ids), dtype=bool)
    text_hits = np.zeros(len(here.texts), dtype=bool)
    for k in earlier:  # one split at a time: a million-task train split is searched, not copied
        ids, texts = k.sorted()
        if here.own and k.own:
            id_hits |= _member(here.ids, ids)
        text_hits |= _member(here.texts, texts)
    for position in np.flatnonzero(id_hits | text_hits):
        task = here.tasks[int(position)]
        if id_hits[position]:
            other = _confirmed(own_earlier, "ids", here.ids[position], _task_id, str(task.id))
            if other is not None:
                return f"task {str(task.id)!r} is in both {other[0].name} and {here.name} (same id)"
        if text_hits[position]:
            question = normalised_question(task)
            other = _confirmed(earlier, "texts", here.texts[position], normalised_question, question)
            if other is not None:
                shown = question if len(question) <= 60 else question[:57] + "..."
                return (
                    f"task {str(task.id)!r} of {here.name} has the same question as task "
                    f"{str(other[1].id)!r} of {other[0].name}: {shown!r}"
                )
    return None


def _task_id(task: Any) -> str:
    return str(task.id)


def _confirmed(
    splits: list[_Keys], kind: str, value: Any, key: Callable[[Any], str], wanted: str
) -> tuple[_Keys, Any] | None:
    """The first split (in order) and its first task whose hash is `value` and whose key is `wanted`."""
    for k in splits:
        for position in np.flatnonzero(getattr(k, kind) == value):
            other = k.tasks[int(position)]
            if key(other) == wanted:
                return k, other
    return None
