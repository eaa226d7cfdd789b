"""How much concurrent evaluation buys: one training step's agent evaluation over 64 tasks.

The agent model is the local OpenAI-compatible test server answering every request after
200 ms (a realistic hosted-model latency); each of the 64 real GSM8K tasks takes two model
turns and one `calculate` call in the sandbox pool. The same evaluation runs with
`training.concurrency = 1` (the baseline, measured in this run) and `= 16`; the replies are
never cached here, so both runs really wait for the server. Target: at least 10x.

    .venv/bin/python benchmarks/train_throughput.py [--tasks 64] [--delay 0.2] [--backend auto]

Last line: RESULT sequential_s=<s> concurrent_s=<s> speedup=<ratio>
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "engine")]

import gsm8k_world as world  # noqa: E402
from llm_server import LLMServer  # noqa: E402

from fnforge.config import AgentSettings, LLMSettings, SandboxSettings, Settings, TrainingSettings  # noqa: E402
from fnforge.engine.background import BackgroundLoop  # noqa: E402
from fnforge.engine.evaluation import Scorer  # noqa: E402
from fnforge.engine.executors.local import LocalExecutor  # noqa: E402
from fnforge.engine.llm import LLMClient  # noqa: E402
from fnforge.evaluators import get_evaluator  # noqa: E402
from fnforge.sandbox import open_pool  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"


def evaluate_once(settings: Settings, pool, evaluator, tasks, concurrency: int) -> tuple[float, float, int]:
    """Wall time, accuracy and model requests of one evaluation at the given concurrency."""
    llm = LLMClient(settings.llm, None)  # no cache: every request goes to the server
    with BackgroundLoop(threads=concurrency + 4) as loop:
        executor = LocalExecutor(settings, llm=llm, pool=pool, evaluator=evaluator, concurrency=concurrency)
        scorer = Scorer(executor, evaluator=evaluator, background=loop)
        t0 = time.perf_counter()
        ev = scorer.score({"calculate": world.CALCULATE}, tasks, split="bench")
        wall = time.perf_counter() - t0
        loop.run(llm.close())
    return wall, ev.accuracy, llm.usage.http_requests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=64)
    ap.add_argument("--delay", type=float, default=0.2, help="server latency per request, seconds")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--backend", default="auto", choices=["auto", "docker", "process"])
    args = ap.parse_args()

    records = world.pick_records(DATASETS, args.tasks)
    evaluator = get_evaluator("gsm8k")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.jsonl"
        world.write_split(path, records)
        tasks = evaluator.load(path)
    sandbox = SandboxSettings(backend=args.backend, pool=4)
    with LLMServer(world.GSM8KWorld(records), delay_s=args.delay) as server, open_pool(sandbox, 4) as pool:
        settings = Settings(
            llm=LLMSettings(
                base_url=server.base_url,
                model=world.AGENT_MODEL,
                concurrency=args.concurrency,
                api_key_env="FNFORGE_BENCH_KEY",
            ),
            agent=AgentSettings(mode="tools", max_turns=4),
            training=TrainingSettings(concurrency=args.concurrency),
            sandbox=sandbox,
        )
        print(
            f"{len(tasks)} GSM8K tasks, tools agent, server latency {args.delay * 1000:.0f} ms, "
            f"sandbox backend {getattr(pool, 'backend_name', args.backend)}"
        )
        seq, acc1, req1 = evaluate_once(settings, pool, evaluator, tasks, 1)
        print(f"concurrency  1 (baseline): {seq:7.2f} s  accuracy {acc1:.3f}  {req1} requests")
        con, acc16, req16 = evaluate_once(settings, pool, evaluator, tasks, args.concurrency)
        print(
            f"concurrency {args.concurrency:2d}:            {con:7.2f} s  accuracy {acc16:.3f}  {req16} requests"
        )
    if acc1 != acc16 or req1 != req16:
        print(f"MISMATCH: the two runs disagree (accuracy {acc1} vs {acc16}, requests {req1} vs {req16})")
        sys.exit(1)
    speedup = seq / con
    print(f"speedup {speedup:.1f}x (target >= 10x)")
    print(f"RESULT sequential_s={seq:.3f} concurrent_s={con:.3f} speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
