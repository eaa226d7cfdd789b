"""Generated arithmetic problems and the peak-memory reading that the scale benchmarks share.

`scale_tasks.py` and `train_memory.py` need thousands of GSM8K-shaped tasks (no dataset is
that large in the repository, and the answer must be known exactly) and the driver's peak
resident memory; both come from here so the two benchmarks measure the same workload.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path


def write_arithmetic_tasks(path: Path, n: int, start: int = 0) -> None:
    """Problems `start` .. `start + n - 1` in GSM8K's JSONL form, streamed to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i in range(start, start + n):
            a, b, c = i % 97, (i // 97) % 89 + 1, i % 13 + 2
            row = {
                "id": f"q{i}",
                "question": f"What is {a} plus {b} times {c}?",
                "answer": f"#### {a + b * c}",
            }
            f.write(json.dumps(row) + "\n")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB); children not included."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
