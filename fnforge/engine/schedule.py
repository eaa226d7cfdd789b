"""The batch schedule: every epoch a seeded shuffle of the training split, cut into batches.

The schedule is a pure function of the split, the batch size, the epochs and the seed, so a
resumed run finds its place from the number of recorded steps alone. It works on positions,
never on rows: an epoch's order is a permutation of positions (kept for the current epoch only,
4 bytes a task), and a batch reads just its own tasks when it is asked for. The order is the
one fnforge always used: the tasks sorted by id, then shuffled with
`random.Random(f"{seed}:{epoch}")`. Sorting a million ids is done once, when the split's index
is built (`id_order`), not on every start.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np


def id_order(tasks: Sequence[Any]) -> np.ndarray:
    """Positions of `tasks` sorted by id: from a lazy split's index, or by reading a small list."""
    own = getattr(tasks, "id_order", None)
    if own is not None:
        return np.asarray(own())  # a split's index keeps it (32-bit below 2**31 tasks)
    ids = [str(t.id) for t in tasks]
    return np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)


class BatchSchedule(Sequence[list[Any]]):
    """The run's batches in order; `schedule[position]` reads that batch's tasks from the split."""

    def __init__(self, tasks: Sequence[Any], batch_size: int, epochs: int, seed: int):
        self.tasks = tasks
        self.batch_size = max(1, batch_size)
        self.epochs = epochs
        self.seed = seed
        self.per_epoch = max(1, math.ceil(len(tasks) / self.batch_size))
        self._by_id: np.ndarray | None = None
        self._epoch: tuple[int, np.ndarray] | None = None  # (epoch, its order): one held at a time

    def __len__(self) -> int:
        return self.per_epoch * self.epochs

    def order(self, epoch: int) -> np.ndarray:
        """The positions of the split in `epoch`'s order."""
        if self._epoch is None or self._epoch[0] != epoch:
            if self._by_id is None:
                self._by_id = id_order(self.tasks)
            order = np.array(self._by_id)  # a copy, shuffled in place
            random.Random(f"{self.seed}:{epoch}").shuffle(order)  # the same swaps as on a list
            self._epoch = (epoch, order)
        return self._epoch[1]

    def positions(self, position: int) -> np.ndarray:
        """The split positions of batch `position` (no task read)."""
        if not 0 <= position < len(self):
            raise IndexError(f"batch {position} of a schedule of {len(self)}")
        epoch, k = divmod(position, self.per_epoch)
        return self.order(epoch)[k * self.batch_size : (k + 1) * self.batch_size]

    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return [self[p] for p in range(len(self))[position]]
        position = position + len(self) if position < 0 else position
        picked = [int(p) for p in self.positions(position)]
        read_many = getattr(self.tasks, "read_many", None)
        return list(read_many(picked)) if read_many is not None else [self.tasks[p] for p in picked]


def batch_schedule(tasks: Sequence[Any], batch_size: int, epochs: int, seed: int) -> list[list[Any]]:
    """Every batch of the run in order, read at once (for small splits and tests; the trainer
    holds a `BatchSchedule` and reads one batch at a time)."""
    return list(BatchSchedule(tasks, batch_size, epochs, seed))
