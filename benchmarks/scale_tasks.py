"""How an evaluation of many tasks scales out: 10,000 direct-mode tasks locally and on Ray.

A 10-function set (an entry `solve` plus nine helpers that are shipped and loaded with it)
is scored in direct mode on 10,000 generated arithmetic problems, each one a sandbox call
and a verdict, with transcripts written to a step log as in training. The same evaluation
runs on the local executor (the baseline, measured in this run), then on a real local Ray
cluster with one worker node and with two (the head node holds only the driver; each worker
node has its own CPU and its own sandbox pool). All three must give the same score.

On a 2-core machine the second node shares the same two cores, so ray2/ray1 shows the seam
at work (chunks spread, results streamed back), not the speed of a real cluster; see the
README for what to expect per added node.

    .venv/bin/python benchmarks/scale_tasks.py [--tasks 10000] [--chunk 250] [--backend auto]

Last line: RESULT tasks=<n> local_per_s=<n> ray1_per_s=<n> ray2_per_s=<n> driver_rss_mb=<n>
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from generated_tasks import peak_rss_mb, write_arithmetic_tasks  # noqa: E402

from fnforge.config import AgentSettings, ExecutorSettings, SandboxSettings, Settings  # noqa: E402
from fnforge.engine.background import BackgroundLoop  # noqa: E402
from fnforge.engine.evaluation import Scorer  # noqa: E402
from fnforge.engine.executors.local import LocalExecutor  # noqa: E402
from fnforge.engine.transcripts import TranscriptLog  # noqa: E402
from fnforge.evaluators import get_evaluator  # noqa: E402
from fnforge.sandbox import open_pool  # noqa: E402

SOLVE = '''"""Answers "What is A plus B times C?" questions."""

import re

PACKAGES = []


def solve(question: str) -> str:
    """A + B * C for the three whole numbers of the question."""
    a, b, c = (int(x) for x in re.findall(r"\\d+", question)[:3])
    return str(a + b * c)
'''

HELPER = '''"""Helper {i}: part of the shipped set, loaded with it on every node."""

PACKAGES = []


def helper_{i}(x: int) -> int:
    """x scaled by {i}."""
    return x * {i}
'''


def function_set() -> dict[str, str]:
    """`solve` and nine helpers: ten modules shipped by content hash."""
    return {"solve": SOLVE, **{f"helper_{i}": HELPER.format(i=i) for i in range(1, 10)}}


def evaluate(settings, pool, evaluator, tasks, log_path: Path, executor=None) -> tuple[float, int]:
    """Tasks per second and correct answers of one evaluation."""
    with BackgroundLoop(threads=settings.training.concurrency + 8) as loop:
        executor = executor or LocalExecutor(settings, llm=None, pool=pool, evaluator=evaluator)
        scorer = Scorer(executor, evaluator=evaluator, background=loop)
        scorer.log = TranscriptLog(log_path)
        t0 = time.perf_counter()
        ev = scorer.score(function_set(), tasks, split="bench")
        wall = time.perf_counter() - t0
    return len(tasks) / wall, int(ev.score.correct)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--chunk", type=int, default=250, help="[executor] tasks_per_chunk")
    ap.add_argument("--backend", default="auto", choices=["auto", "docker", "process"])
    args = ap.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from fnforge.engine.executors.ray.driver import RayExecutor

    evaluator = get_evaluator("gsm8k")
    sandbox = SandboxSettings(backend=args.backend, pool=2, timeout_s=10.0)
    settings = Settings(
        agent=AgentSettings(mode="direct", entry="solve"),
        sandbox=sandbox,
        executor=ExecutorSettings(kind="ray", tasks_per_chunk=args.chunk),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.jsonl"
        write_arithmetic_tasks(path, args.tasks)
        tasks = evaluator.load(path)
        print(f"{len(tasks)} generated tasks, direct mode, a 10-function set, chunks of {args.chunk}")

        with open_pool(sandbox, 2) as pool:
            local_per_s, local_ok = evaluate(settings, pool, evaluator, tasks, Path(tmp) / "local.jsonl")
            print(f"local executor ({pool.backend_name}):  {local_per_s:8.1f} tasks/s  ({local_ok} correct)")

            cluster = Cluster(
                initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
            )
            try:
                cluster.add_node(num_cpus=1)
                ray.init(address=cluster.address)
                cluster.wait_for_nodes()
                per_s = {}
                for nodes in (1, 2):
                    if nodes == 2:
                        cluster.add_node(num_cpus=1)
                        cluster.wait_for_nodes()
                    executor = RayExecutor(settings, llm=None, evaluator=evaluator)
                    try:
                        executor.refresh_nodes()
                        assert executor.nodes == nodes, f"{executor.nodes} Ray nodes run pools, not {nodes}"
                        log = Path(tmp) / f"ray{nodes}.jsonl"
                        per_s[nodes], ok = evaluate(settings, pool, evaluator, tasks, log, executor)
                    finally:
                        executor.close()
                    lines = sum(1 for _ in log.open(encoding="utf-8"))
                    print(
                        f"Ray, {nodes} worker node{'s' if nodes > 1 else ' '}:      {per_s[nodes]:8.1f} tasks/s  "
                        f"({ok} correct, {lines} transcripts)"
                    )
                    if ok != local_ok or lines != len(tasks):
                        print(f"MISMATCH: Ray scored {ok} (local {local_ok}), {lines} transcript lines")
                        for x in TranscriptLog(log).read():
                            if not x["correct"]:
                                print(f"  task {x['task_id']}: {x['error'] or x['output']!s:.300}")
                        sys.exit(1)
            finally:
                ray.shutdown()
                cluster.shutdown()
    rss = peak_rss_mb()
    print(f"ray2/ray1 = {per_s[2] / per_s[1]:.2f}; driver peak RSS {rss:.0f} MB")
    print(
        f"RESULT tasks={len(tasks)} local_per_s={local_per_s:.1f} ray1_per_s={per_s[1]:.1f} "
        f"ray2_per_s={per_s[2]:.1f} driver_rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
