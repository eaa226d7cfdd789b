"""The batch schedule of a training run: a pure function of the tasks, the batch size and the seed.

Each epoch is a fresh seeded shuffle cut into batches, so a resumed run finds its next batch
from the number of steps it recorded, with nothing else stored.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any


def batch_schedule(tasks: Sequence[Any], batch_size: int, epochs: int, seed: int) -> list[list[Any]]:
    """Every batch of the run in order: each epoch a fresh seeded shuffle cut into batches."""
    per_epoch = max(1, math.ceil(len(tasks) / batch_size))
    batches = []
    for epoch in range(epochs):
        order = sorted(tasks, key=lambda t: str(t.id))
        random.Random(f"{seed}:{epoch}").shuffle(order)
        batches += [order[i * batch_size : (i + 1) * batch_size] for i in range(per_epoch)]
    return batches
