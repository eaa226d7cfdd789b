"""Does a long run's memory stay flat? 50 training steps over 2,000 validation tasks.

A real training run (direct mode, the real trainer, gates, git store and reply cache) whose
optimizer is a zero-latency scripted model on loopback: every step it revises `solve` into a
new variant that passes the gates, so every step scores a fresh candidate on all 2,000
validation tasks and writes 2,000+ transcripts. The trainer process's peak resident memory
is read after step 5 (the baseline, measured in this run) and after step 50; a run whose
memory grows with steps or tasks (transcripts kept, scores never dropped, history re-read
into lists that live on) fails the target growth < 1.2.

    .venv/bin/python benchmarks/train_memory.py [--steps 50] [--val 2000] [--backend process]

The sandbox backend does not change the driver's memory (workers are other processes); the
process backend keeps the 100,000 calls quick.

Last line: RESULT steps=<n> rss_step5_mb=<n> rss_step50_mb=<n> growth=<ratio>
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from generated_tasks import RevisingOptimizer, peak_rss_mb, write_arithmetic_tasks  # noqa: E402
from llm_server import LLMServer  # noqa: E402

from fnforge.engine.trainer import train  # noqa: E402
from fnforge.function_repo import FunctionRepo  # noqa: E402

# The optimizer's `solve`, revision {n}: one variant in four adds 1 to every answer (wrong everywhere,
# rejected at validation); the others are right and equal in score to the head (rejected for no gain).
# Either way the candidate is scored on every validation task.
SOLVE = '''"""Answers "What is A plus B times C?" questions."""

import re

PACKAGES = []

REVISION = {n}


def solve(question: str) -> str:
    """A + B * C for the first three whole numbers of the question ("0" when there are fewer)."""
    numbers = [int(x) for x in re.findall(r"\\d+", question)[:3]]
    if len(numbers) < 3:
        return "0"
    a, b, c = numbers
    return str(a + b * c + (1 if {n} % 4 == 3 else 0))
'''

CONFIG = """[task]
name = "gsm8k"

[data]
train = "data/train.jsonl"
val = "data/val.jsonl"

[llm]
base_url = "{base_url}"
model = "agent-model"
optimizer_model = "optimizer-model"
api_key_env = "FNFORGE_BENCH_KEY"

[agent]
mode = "direct"
entry = "solve"

[training]
epochs = 2
batch_size = 8
min_delta = 0.0
patience = {steps}
max_steps = {steps}
concurrency = 16
optimizer_retries = 0

[sandbox]
backend = "{backend}"
timeout_s = 5.0
pool = 4
property_examples = 5
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--backend", default="process", choices=["auto", "docker", "process"])
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # the process backend's warning, once per pool
    os.environ["FNFORGE_BENCH_KEY"] = "bench-key"

    marks: dict[int, float] = {}
    t0 = time.perf_counter()

    def progress(event: str, **kw) -> None:
        if event == "decided":
            with server._lock:  # the scripted server lives in this process: forget what it was asked
                server.requests.clear()
                server.headers.clear()
            step = kw["step"]
            marks[step] = peak_rss_mb()
            if step in (1, 5) or step % 10 == 0:
                print(
                    f"step {step:3d}: {'accepted' if kw['accepted'] else 'rejected'} "
                    f"({kw['gate'] or 'merged'}: {kw['reason'][:40]}), peak RSS {marks[step]:6.1f} MB, {time.perf_counter() - t0:6.1f} s",
                    flush=True,
                )

    with tempfile.TemporaryDirectory() as tmp, LLMServer(RevisingOptimizer(SOLVE)) as server:
        root = Path(tmp) / "fns"
        config = CONFIG.format(base_url=server.base_url, steps=args.steps, backend=args.backend)
        repo = FunctionRepo.init(root, config_text=config)
        write_arithmetic_tasks(root / "data" / "train.jsonl", 8 * args.steps)
        write_arithmetic_tasks(root / "data" / "val.jsonl", args.val, start=100_000)
        repo.git.run("add", "data")
        repo.git.run("commit", "-q", "-m", "generated tasks")
        print(f"{args.steps} steps, {args.val} validation tasks, direct mode, zero-latency optimizer")
        result = train(repo, run="mem", progress=progress)
    print(f"stopped: {result.stopped}; {len(result.steps)} steps in {time.perf_counter() - t0:.0f} s")
    last = max(marks)
    if last < args.steps or 5 not in marks:
        print(f"MISMATCH: the run recorded {last} steps, not {args.steps}")
        sys.exit(1)
    growth = marks[last] / marks[5]
    print(
        f"peak RSS after step 5: {marks[5]:.1f} MB, after step {last}: {marks[last]:.1f} MB (target growth < 1.2)"
    )
    print(
        f"RESULT steps={last} rss_step5_mb={marks[5]:.1f} rss_step50_mb={marks[last]:.1f} growth={growth:.3f}"
    )


if __name__ == "__main__":
    main()
