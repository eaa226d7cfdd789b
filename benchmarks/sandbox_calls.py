"""Calls per second of a trivial function: warm sandbox worker vs one `docker exec` per call.

Workload: `add(a, b) -> a + b` called with fresh arguments each time, on the same image:
(a) through fnforge's warm worker (`SandboxPool.call`: a container already running, the set
    already imported, a pre-forked child per call), one caller thread;
(b) with one `docker exec` per call into a running container of the same image, the way
    AutoGen's DockerCommandLineCodeExecutor runs code: the code written to a file in a
    bind-mounted work dir, then `timeout 60 python3 <file>` (the baseline);
(c) in-process: the same function compiled and called directly in this interpreter (no
    isolation at all: the floor, for scale).
Each side is warmed up before timing. The script prints calls/s for each, the ratio warm/exec
and the warm call's median and p95 latency. Targets: warm/exec >= 100x, median < 1 ms.
It also times the property tests of a 10-function set in a warm worker (target < 5 s), and
(d) the floor under any design that gives each call a fresh process: a bare python3 in a
container with a worker's image, isolation settings and limits forks a child per call that decodes a JSON
request, calls `add`, writes the JSON answer to a pipe and exits, N times; the CPU each such
call costs, divided into the CPU limit, bounds the calls/s such a design can reach (no
framing, output capture, limits, timeouts or cleanup, so the bound is generous).

Run: .venv/bin/python benchmarks/sandbox_calls.py [--calls N] [--exec-calls N]
Last line: RESULT warm_per_s=<n> exec_per_s=<n> inprocess_per_s=<n> warm_over_exec=<ratio> warm_median_ms=<ms>
           proptest10_s=<s> warm_spaced_median_ms=<ms> worker_median_ms=<ms>
           worker_spaced_median_ms=<ms> fork_floor_cpu_ms=<ms>
           fresh_process_ceiling_per_s=<n> ceiling_over_exec=<ratio>  (one line)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import docker

from fnforge.config import SandboxSettings
from fnforge.sandbox import build_image, open_pool
from fnforge.sandbox.docker_backend import LABEL, LABEL_OWNER, DockerSandbox, owner_label
from fnforge.sandbox.image import SANDBOX_UID

SOURCE = "def add(a: int, b: int) -> int:\n    '''Adds two numbers.'''\n    return a + b\n"


def bench_warm(
    settings: SandboxSettings, calls: int, gap_s: float = 0.0
) -> tuple[float, list[float], list[float]]:
    """Calls/s, per-call latencies at the host, and the same calls as the worker timed them
    (request in to answer out, inside the container), through one warm worker; `gap_s` apart."""
    functions = {"add": SOURCE}
    with open_pool(settings, size=1) as pool:
        for i in range(50):  # load the set, warm the pipes
            assert pool.call(functions, "add", {"a": i, "b": 1}).value == i + 1
        latencies, inside = [], []
        start = time.perf_counter()
        for i in range(calls):
            t = time.perf_counter()
            res = pool.call(functions, "add", {"a": i, "b": 2})
            latencies.append(time.perf_counter() - t)
            inside.append(res.duration_s)
            assert res.ok and res.value == i + 2, res
            if gap_s:
                time.sleep(gap_s)
        total = time.perf_counter() - start
    return calls / total, latencies, inside


def bench_exec(settings: SandboxSettings, calls: int) -> float:
    """Calls/s the way AutoGen's DockerCommandLineCodeExecutor runs code: write the code to a
    file in a bind-mounted work dir, then `exec_run(["timeout", T, "python3", file])`."""
    client = docker.from_env(version="auto")
    work = Path(tempfile.mkdtemp(prefix="fnforge-bench-"))
    work.chmod(0o755)
    container = client.containers.run(
        settings.image,
        ["sleep", "infinity"],
        detach=True,
        network_mode="none",
        working_dir="/workspace",
        volumes={str(work): {"bind": "/workspace", "mode": "rw"}},
        labels={LABEL: "1", LABEL_OWNER: owner_label()},
        user=f"{SANDBOX_UID}:{SANDBOX_UID}",
    )
    try:

        def one(i: int) -> int:
            code = SOURCE + f"import json\nprint(json.dumps(add(**{json.dumps({'a': i, 'b': 2})})))\n"
            name = f"tmp_code_{hashlib.md5(code.encode()).hexdigest()}.py"  # noqa: S324 - a file name
            (work / name).write_text(code)
            (work / name).chmod(0o644)
            exit_code, output = container.exec_run(["timeout", "60", "python3", name])
            assert exit_code == 0, output
            return json.loads(output)

        for i in range(3):
            assert one(i) == i + 2
        start = time.perf_counter()
        for i in range(calls):
            assert one(i) == i + 2
        return calls / (time.perf_counter() - start)
    finally:
        container.remove(force=True)
        shutil.rmtree(work, ignore_errors=True)


def bench_proptest(settings: SandboxSettings) -> float:
    """Seconds for the derived properties of 10 changed functions, warm worker, settings' examples."""
    functions = {
        f"f{i}": (
            f'def f{i}(xs: list[int], lo: int) -> list[int]:\n    """Scaled values above lo."""\n'
            f"    return [v * {i} for v in xs if v > lo]\n"
        )
        for i in range(10)
    }
    with open_pool(settings, size=1) as pool:
        pool.proptest(functions, {}, ["f0"], settings.property_examples, timeout=60)  # warm
        start = time.perf_counter()
        report = pool.proptest(functions, {}, sorted(functions), settings.property_examples, timeout=60)
        took = time.perf_counter() - start
    assert report.passed, report
    return took


FORK_FLOOR = """
import json, os, time
def add(a, b):
    return a + b
r, w = os.pipe()
def calls(n):
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            request = json.loads('{"name": "add", "args": {"a": 1, "b": 2}}')
            os.write(w, json.dumps({"value": add(**request["args"])}).encode())
            os._exit(0)
        os.read(r, 4096)
        os.waitpid(pid, 0)
calls(100)
n = 1000
t0, w0 = os.times(), time.perf_counter()
calls(n)
t1, wall = os.times(), time.perf_counter() - w0
cpu = sum(b - a for a, b in zip(t0[:4], t1[:4]))
print(json.dumps({"per_s": n / wall, "cpu_ms": cpu / n * 1000}))
"""


def bench_fork_floor(settings: SandboxSettings) -> tuple[float, float]:
    """(calls per second, CPU ms per call) of the bare fresh-child-per-call loop `FORK_FLOOR` in a
    container with every isolation setting and limit of a sandbox worker's, but no worker."""
    options = DockerSandbox(settings).container_options()
    options.update(command=["python3", "-I", "-c", FORK_FLOOR], stdin_open=False, mounts=[], log_config=None)
    container = docker.from_env(version="auto").containers.create(**options)
    try:
        container.start()
        status = container.wait(timeout=120)
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        assert status.get("StatusCode") == 0, output
        floor = json.loads(output.strip().splitlines()[-1])  # our own script's one line of JSON
        return float(floor["per_s"]), float(floor["cpu_ms"])
    finally:
        container.remove(force=True)


def bench_inprocess(calls: int) -> float:
    scope: dict = {}
    exec(compile(SOURCE, "add.py", "exec"), scope)  # noqa: S102 - our own constant source
    add = scope["add"]
    start = time.perf_counter()
    for i in range(calls):
        add(a=i, b=2)
    return calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="warm-worker calls to time")
    parser.add_argument("--exec-calls", type=int, default=40, help="docker exec calls to time")
    args = parser.parse_args()
    settings = SandboxSettings(backend="docker")
    build_image(settings, progress=lambda m: print(f"image: {m}", flush=True))

    warm_per_s, latencies, inside = bench_warm(settings, args.calls)
    median_ms = statistics.median(latencies) * 1000
    p95_ms = sorted(latencies)[int(0.95 * len(latencies))] * 1000
    print(
        f"(a) warm worker:       {warm_per_s:10.1f} calls/s  median {median_ms:.3f} ms  p95 {p95_ms:.3f} ms "
        f"({args.calls} calls)",
        flush=True,
    )
    _, spaced, spaced_inside = bench_warm(settings, 500, gap_s=0.005)
    spaced_ms = statistics.median(spaced) * 1000
    print(
        f"(a') warm worker, calls 5 ms apart (an agent between model turns): median {spaced_ms:.3f} ms",
        flush=True,
    )
    worker_ms, worker_spaced_ms = statistics.median(inside) * 1000, statistics.median(spaced_inside) * 1000
    print(
        f"(a'') the same calls by the worker's own clock (request in to answer out, inside the container): "
        f"median {worker_ms:.3f} ms back to back, {worker_spaced_ms:.3f} ms spaced; the rest is the Docker "
        "attach stream and the host client",
        flush=True,
    )
    exec_per_s = bench_exec(settings, args.exec_calls)
    print(f"(b) docker exec/call:  {exec_per_s:10.1f} calls/s  ({args.exec_calls} calls)", flush=True)
    inprocess_per_s = bench_inprocess(200_000)
    print(f"(c) in-process:        {inprocess_per_s:10.1f} calls/s  (no isolation; for scale)", flush=True)
    proptest_s = bench_proptest(settings)
    print(
        f"property tests, 10 functions x {settings.property_examples} examples, warm: {proptest_s:.2f} s "
        "(target < 5 s)",
        flush=True,
    )
    floor_per_s, floor_cpu_ms = bench_fork_floor(settings)
    ceiling_per_s = settings.cpus * 1000 / floor_cpu_ms
    print(
        f"(d) floor: a bare fork-a-child-per-call loop in python3, same image and limits: {floor_per_s:.0f} calls/s, "
        f"{floor_cpu_ms:.3f} ms CPU each; under cpus={settings.cpus:g} no fresh-process-per-call design passes "
        f"{ceiling_per_s:.0f} calls/s = {ceiling_per_s / exec_per_s:.0f}x exec, even with no protocol at all",
        flush=True,
    )
    ratio = warm_per_s / exec_per_s
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} during the run "
        "(other work on the cores inflates every side, the warm worker's many small hand-offs most)"
    )
    print(f"warm / exec = {ratio:.1f}x (target >= 100x); warm median {median_ms:.3f} ms (target < 1 ms)")
    print(
        f"RESULT warm_per_s={warm_per_s:.1f} exec_per_s={exec_per_s:.2f} inprocess_per_s={inprocess_per_s:.0f} "
        f"warm_over_exec={ratio:.1f} warm_median_ms={median_ms:.3f} proptest10_s={proptest_s:.2f} "
        f"warm_spaced_median_ms={spaced_ms:.3f} worker_median_ms={worker_ms:.3f} "
        f"worker_spaced_median_ms={worker_spaced_ms:.3f} fork_floor_cpu_ms={floor_cpu_ms:.3f} "
        f"fresh_process_ceiling_per_s={ceiling_per_s:.0f} ceiling_over_exec={ceiling_per_s / exec_per_s:.1f}"
    )


if __name__ == "__main__":
    main()
