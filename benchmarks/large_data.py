"""A million training tasks on one machine: how fast a run starts and how much the driver holds.

Writes 1,000,000 GSM8K-shaped tasks (a question, a worked answer ending `#### n`, an id) as JSONL
and as Parquet (row groups of 10,000) into a temporary folder that is removed afterwards, and a
2,000-task validation set. Then, per format, a real training run (direct mode, the real trainer,
gates, git store; a zero-latency scripted optimizer on loopback; the process sandbox backend)
takes 3 steps, each in a fresh process so that its peak memory is its own:

- with the first 10,000 tasks (the baseline, measured in this run);
- with all 1,000,000, first start (the index is built in one pass and cached in `.git/fnforge/`);
- with all 1,000,000 again, second start (the index is read back).

`first_start_s` and `second_start_s` are the seconds from calling `train` to the first step's
batch being read (with the CPU seconds they took, index worker included, and the load average,
since other work on a shared machine stretches the wall time); `rss_mb` is the larger peak resident memory of the two million-task runs,
`rss_10k_mb` that of the 10,000-task run, `rss_ratio` their ratio. Targets: rss_ratio <= 1.5,
first_start_s <= 30, second_start_s <= 5, for both formats; the RESULT line carries the worse.

    .venv/bin/python benchmarks/large_data.py [--tasks 1000000] [--small 10000] [--val 2000]

Last line: RESULT tasks=<n> first_start_s=<s> second_start_s=<s> rss_mb=<m> rss_10k_mb=<m> rss_ratio=<r>
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

STEPS = 3
ROW_GROUP = 10_000

SOLVE = '''"""Answers "Ticket N: what is A plus B times C?" questions."""

import re

PACKAGES = []

REVISION = {n}


def solve(question: str) -> str:
    """A + B * C for the last three whole numbers of the question ("0" when there are fewer)."""
    numbers = [int(x) for x in re.findall(r"\\d+", question)[-3:]]
    if len(numbers) < 3:
        return "0"
    a, b, c = numbers
    return str(a + b * c + (1 if {n} % 2 == 0 else 0))
'''

CONFIG = """[task]
name = "gsm8k"

[data]
train = "{train}"
val = "{val}"

[llm]
base_url = "{base_url}"
model = "agent-model"
optimizer_model = "optimizer-model"
api_key_env = "FNFORGE_BENCH_KEY"

[agent]
mode = "direct"
entry = "solve"

[training]
epochs = 1
batch_size = 8
patience = 10
max_steps = {steps}
concurrency = 16
optimizer_retries = 0

[sandbox]
backend = "process"
timeout_s = 5.0
pool = 4
property_examples = 5
"""


def task_row(i: int) -> dict:
    """Task i: a question no other task asks (its ticket number is i), GSM8K's answer form."""
    a, b, c = i % 997, (i // 997) % 89 + 1, i % 13 + 2
    return {
        "id": f"t{i}",
        "question": f"Ticket {i}: what is {a} plus {b} times {c}?",
        "answer": f"{b} times {c} is {b * c}, plus {a} is {a + b * c}.\n#### {a + b * c}",
    }


def write_jsonl(path: Path, start: int, n: int) -> None:
    """Tasks start .. start + n - 1 as JSONL, streamed."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(start, start + n):
            f.write(json.dumps(task_row(i)) + "\n")


def write_parquet(path: Path, start: int, n: int) -> None:
    """Tasks start .. start + n - 1 as Parquet, written a row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("question", pa.string()), ("answer", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for lo in range(start, start + n, ROW_GROUP):
            rows = [task_row(i) for i in range(lo, min(start + n, lo + ROW_GROUP))]
            writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=ROW_GROUP)


def cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (the index worker)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def child(repo_dir: Path, train_path: Path, val_path: Path, run: str) -> None:
    """One measured run in this process: prints a JSON line with its start time and peak RSS."""
    from generated_tasks import RevisingOptimizer, peak_rss_mb
    from llm_server import LLMServer

    from fnforge.engine.trainer import train
    from fnforge.function_repo import FunctionRepo

    warnings.simplefilter("ignore")
    os.environ["FNFORGE_BENCH_KEY"] = "bench-key"
    marks: dict[str, float] = {}
    with LLMServer(RevisingOptimizer(SOLVE)) as server:
        if not repo_dir.exists():
            config = CONFIG.format(train=train_path, val=val_path, base_url=server.base_url, steps=STEPS)
            FunctionRepo.init(repo_dir, config_text=config)
        repo = FunctionRepo.open(repo_dir)
        t0, cpu0 = time.perf_counter(), cpu_seconds()

        def progress(event: str, **kw) -> None:
            if event == "step" and "start" not in marks:
                marks["start"] = time.perf_counter() - t0
                marks["cpu"] = cpu_seconds() - cpu0  # this process and the index worker it waited for
                marks["load"] = os.getloadavg()[0]
            if event == "data" and kw.get("split") == "train":
                marks["index"] = kw["files"][0]["index"]

        result = train(repo, run=run, progress=progress)
    print(
        json.dumps(
            {
                "start_s": marks.get("start"),
                "rss_mb": peak_rss_mb(),
                "steps": len(result.steps),
                "stopped": result.stopped,
                "index": marks.get("index"),
                "cpu_s": marks.get("cpu"),
                "load": marks.get("load"),
            }
        ),
        flush=True,
    )


def measure(repo_dir: Path, train_path: Path, val_path: Path, run: str) -> dict:
    """Run `child` in a fresh process (its own peak memory) and read its JSON line."""
    cmd = [sys.executable, __file__, "--child", str(repo_dir), str(train_path), str(val_path), run]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-4000:], sep="\n")
        raise SystemExit(f"the run {run} on {train_path.name} failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["steps"] != STEPS:
        raise SystemExit(
            f"the run {run} on {train_path.name} took {out['steps']} steps, not {STEPS}: {out['stopped']}"
        )
    return out


def bench_format(tmp: Path, fmt: str, big: Path, small: Path, val: Path, big_n: int, small_n: int) -> dict:
    """The three runs of one format; the figures of the RESULT line."""
    small_run = measure(tmp / f"repo-{fmt}-small", small, val, "small")
    first = measure(tmp / f"repo-{fmt}-big", big, val, "first")
    second = measure(tmp / f"repo-{fmt}-big", big, val, "second")
    rss = max(first["rss_mb"], second["rss_mb"])
    figures = {
        "first_start_s": first["start_s"],
        "second_start_s": second["start_s"],
        "rss_mb": rss,
        "rss_10k_mb": small_run["rss_mb"],
        "rss_ratio": rss / small_run["rss_mb"],
        "small_start_s": small_run["start_s"],
    }
    built = first["index"] if isinstance(first["index"], dict) else {}
    print(
        f"{fmt:8s}: {small_n:,} tasks: start {figures['small_start_s']:5.2f} s, peak {figures['rss_10k_mb']:6.1f} MB | "
        f"{big_n:,}: first start {figures['first_start_s']:5.2f} s ({first['cpu_s']:.1f} CPU s, load {first['load']:.1f}; "
        f"peak {first['rss_mb']:6.1f} MB; index built by "
        f"{built.get('by', '?')} in {built.get('seconds', 0):.1f} s, its peak {built.get('peak_mb', 'n/a')} MB), "
        f"second start {figures['second_start_s']:5.2f} s (peak {second['rss_mb']:6.1f} MB, index {second['index']}) | "
        f"rss_ratio {figures['rss_ratio']:.3f}",
        flush=True,
    )
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--child", nargs=4, metavar=("REPO", "TRAIN", "VAL", "RUN"))
    args = ap.parse_args()
    if args.child:
        repo, train_path, val_path, run = args.child
        child(Path(repo), Path(train_path), Path(val_path), run)
        return
    tmp = Path(tempfile.mkdtemp(prefix="fnforge-large-data-"))
    try:
        t0 = time.perf_counter()
        val = tmp / "val.jsonl"
        write_jsonl(val, 10 * args.tasks, args.val)  # ticket numbers no training task has
        files = {}
        for fmt, write, suffix in (("jsonl", write_jsonl, ".jsonl"), ("parquet", write_parquet, ".parquet")):
            files[fmt] = (tmp / f"train-big{suffix}", tmp / f"train-small{suffix}")
            write(files[fmt][0], 0, args.tasks)
            write(files[fmt][1], 0, args.small)
        sizes = {fmt: round(b.stat().st_size / 1e6, 1) for fmt, (b, _) in files.items()}
        print(
            f"wrote {args.tasks:,} tasks as JSONL ({sizes['jsonl']} MB) and Parquet ({sizes['parquet']} MB), "
            f"{args.val:,} validation tasks, in {time.perf_counter() - t0:.0f} s; {STEPS} steps per run, direct mode",
            flush=True,
        )
        print(f"baseline: the same run with {args.small:,} training tasks, measured in this run", flush=True)
        results = {
            fmt: bench_format(tmp, fmt, big, small, val, args.tasks, args.small)
            for fmt, (big, small) in files.items()
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    worst = {
        key: max(r[key] for r in results.values())
        for key in ("first_start_s", "second_start_s", "rss_mb", "rss_10k_mb", "rss_ratio")
    }
    ok = worst["rss_ratio"] <= 1.5 and worst["first_start_s"] <= 30 and worst["second_start_s"] <= 5
    print(
        "targets: rss_ratio <= 1.5, first_start_s <= 30, second_start_s <= 5 -> "
        + ("met" if ok else "NOT met")
    )
    print(
        f"RESULT tasks={args.tasks} first_start_s={worst['first_start_s']:.2f} "
        f"second_start_s={worst['second_start_s']:.2f} rss_mb={worst['rss_mb']:.1f} "
        f"rss_10k_mb={worst['rss_10k_mb']:.1f} rss_ratio={worst['rss_ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
