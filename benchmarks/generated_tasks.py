"""Generated arithmetic problems, the peak-memory reading and the scripted optimizer that the
scale benchmarks share.

`scale_tasks.py`, `train_memory.py` and `large_data.py` need thousands of GSM8K-shaped tasks
(no dataset is that large in the repository, and the answer must be known exactly), the
driver's peak resident memory, and an optimizer that costs nothing; they come from here so the
benchmarks measure the same workload.
"""

from __future__ import annotations

import json
import resource
import threading
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


class RevisingOptimizer:
    """The zero-latency scripted optimizer: step 1 adds `solve`, every later step revises it.

    `solve` is the module's source with a `{n}` placeholder, filled with the revision number, so
    each revision is a new variant (the benchmark's source decides what its variants get wrong).
    """

    def __init__(self, solve: str) -> None:
        self.solve = solve
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict):
        from llm_server import tool_calls

        with self.lock:
            self.n += 1
            n = self.n
        action = "add_function" if n == 1 else "revise_function"
        return tool_calls(
            (action, {"name": "solve", "description": "Arithmetic.", "code": self.solve.format(n=n)})
        )
