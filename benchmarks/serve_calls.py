"""Calls per second of a trivial tool through `fnforge serve` over stdio, vs the pool called directly.

Workload: `add_numbers(a, b) -> a + b` from a real function repository on the Docker sandbox
(pool and queue as `fnforge init` writes them: 4 workers, 16 waiting), called with fresh
arguments each time, after a warm-up:
(a) through MCP: the SDK's real client (`ClientSession` over `stdio_client`) talking to a
    `fnforge serve` subprocess, which checks the arguments against the schema, admits the
    call through its queue and runs it in a warm sandbox worker; one caller awaiting each
    call in turn (sequential), then 8 callers on the one session at once (concurrent);
(b) the baseline, measured in the same run on the same machine: `SandboxPool.call` called
    directly in this process (no protocol, no server), one thread, then 8 threads; so the
    ratio is what the MCP layer (JSON-RPC over pipes, validation, queue) costs.
The pools of (a) and (b) never run at the same time.

Run: .venv/bin/python benchmarks/serve_calls.py [--calls N]
Last line: RESULT sequential_per_s=<n> concurrent_per_s=<n>
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from fnforge.config import render_template
from fnforge.function_repo import FunctionRepo
from fnforge.sandbox import build_image, open_pool

CALLERS = 8
ADD = '''PACKAGES = []


def add_numbers(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b
'''


def make_repo(root: Path) -> FunctionRepo:
    """A repository on the Docker sandbox holding the one trivial function as step 1."""
    config = render_template("gsm8k").replace('backend = "auto"', 'backend = "docker"')
    repo = FunctionRepo.init(root, task="gsm8k", config_text=config)
    assert repo.run_step([{"action": "add_function", "name": "add_numbers", "code": ADD}], []).accepted
    return repo


def direct(repo: FunctionRepo, calls: int) -> tuple[float, float, float]:
    """The baseline: (sequential calls/s, median ms, concurrent calls/s) of SandboxPool.call."""
    functions = repo.functions()
    with open_pool(repo.settings.sandbox) as pool:

        def one(i: int) -> float:
            started = time.perf_counter()
            res = pool.call(functions, "add_numbers", {"a": i, "b": 1})
            assert res.ok and res.value == i + 1, res
            return time.perf_counter() - started

        for i in range(20):
            one(i)
        started = time.perf_counter()
        took = [one(i) for i in range(calls)]
        sequential = calls / (time.perf_counter() - started)
        with ThreadPoolExecutor(CALLERS) as ex:
            started = time.perf_counter()
            list(ex.map(one, range(calls)))
            concurrent = calls / (time.perf_counter() - started)
    return sequential, statistics.median(took) * 1000, concurrent


async def through_mcp(root: Path, calls: int) -> tuple[float, float, float]:
    """(sequential calls/s, median ms, concurrent calls/s) through the MCP client over stdio."""
    fnforge = Path(sys.executable).parent / "fnforge"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parents[1]),
                                                                      os.environ.get("PYTHONPATH")]))}  # fmt: skip
    params = StdioServerParameters(
        command=str(fnforge), args=["--quiet", "serve", "--repo", str(root)], env=env
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()

        async def one(i: int) -> float:
            started = time.perf_counter()
            res = await session.call_tool("add_numbers", {"a": i, "b": 1})
            assert not res.is_error and json.loads(res.content[0].text) == i + 1, res
            return time.perf_counter() - started

        for i in range(20):
            await one(i)
        started = time.perf_counter()
        took = [await one(i) for i in range(calls)]
        sequential = calls / (time.perf_counter() - started)

        async def caller(k: int) -> None:
            for i in range(k, calls, CALLERS):
                await one(i)

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for k in range(CALLERS):
                tg.start_soon(caller, k)
        concurrent = calls / (time.perf_counter() - started)
    return sequential, statistics.median(took) * 1000, concurrent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fnforge-serve-bench-") as tmp:
        repo = make_repo(Path(tmp) / "bench-fns")
        build_image(repo.settings.sandbox)
        base_seq, base_ms, base_conc = direct(repo, args.calls)
        print(f"baseline SandboxPool.call in-process: {base_seq:7.0f} calls/s sequential (median {base_ms:.2f} ms), "
              f"{base_conc:7.0f} calls/s with {CALLERS} threads", flush=True)  # fmt: skip
        seq, ms, conc = anyio.run(through_mcp, repo.root, args.calls)
        repo.close()
    print(f"MCP client -> fnforge serve (stdio): {seq:7.0f} calls/s sequential (median {ms:.2f} ms), "
          f"{conc:7.0f} calls/s with {CALLERS} callers", flush=True)  # fmt: skip
    print(f"ratio MCP / direct: sequential {seq / base_seq:.2f}x, concurrent {conc / base_conc:.2f}x; "
          f"the MCP layer adds {ms - base_ms:.2f} ms per call (median)")  # fmt: skip
    print(f"RESULT sequential_per_s={seq:.0f} concurrent_per_s={conc:.0f}")


if __name__ == "__main__":
    main()
