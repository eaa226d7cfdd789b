"""The one seeded order in which validation tasks are scored, shared by sampling and sequential validation.

Two features read the validation split in an order and must agree on it: `[data] val_sample = N`
scores the first N tasks of this order (a fixed, seeded sample), and sequential validation walks
the order in chunks and stops once the decision is known. Because every candidate of a run sees
the same order, the head's per-task results are reused and a replay is exact. The order depends
only on the split's size and the seed, never on the tasks' contents, so it can be computed without
reading a single task.
"""

from __future__ import annotations

import random


def validation_order(n: int, seed: int, sample: int = 0) -> list[int]:
    """Indices 0..n-1 in the run's seeded order; only the first `sample` of them when 0 < sample < n."""
    if n < 0 or sample < 0:
        raise ValueError(f"validation_order: n and sample must be >= 0, got n={n}, sample={sample}")
    order = list(range(n))
    random.Random(f"{seed}:validation").shuffle(order)
    return order[:sample] if 0 < sample < n else order
