"""The property-test host: runs the runner the host sends in a fresh child, under watchdogs.

The runner (fnforge/sandbox/proprunner.py, sent as source with each `proptest` request)
announces every example before calling it; the worker kills the child when one example
overruns its limit or the whole run overruns its budget, and says which in the reply:
`budget_exhausted` is true when the overall budget ran out.
"""

import os
import select
import time

from .call_child import error_of, flush_std
from .function_set import install_functions
from .processes import apply_rlimits, child_setup, die_with_parent, fork, oom_kills, set_oom_score
from .protocol import FrameReader, frame, write_all


def proptest_child(req, modules, res_w, limits):
    """Runs in a fresh child of the worker: import the set and the runner, report properties."""
    os.setsid()
    set_oom_score(1000)
    die_with_parent(limits)
    if limits:
        apply_rlimits(limits)
    try:
        install_errors = install_functions(modules)
        runner = {"__name__": "fnforge_proptest"}
        exec(compile(req["runner"], "fnforge_proptest.py", "exec"), runner)

        def emit(obj):
            write_all(res_w, frame(obj))

        report = runner["run"](
            modules=modules,
            tests=req.get("tests", {}),
            changed=req.get("changed", []),
            examples=req.get("examples", 30),
            call_timeout=req.get("call_timeout", 5.0),
            load_errors=install_errors,
            emit=emit,
        )
        flush_std()
        emit({"kind": "report", "report": report})
    except BaseException as e:  # noqa: BLE001
        flush_std()
        write_all(res_w, frame({"kind": "report", "error": error_of(e)}))
    os._exit(0)


def proptest(worker, req):
    """Run the property runner in a fresh child, with a watchdog on each announced example."""
    started = time.monotonic()
    total = float(req.get("timeout", 60))
    per_example = float(req.get("call_timeout", 5))
    deadline = started + total
    oom_before = oom_kills() if worker.contained else -1
    res_r, res_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = fork(worker.reap)
    except OSError:
        for fd in (res_r, res_w, out_r, out_w):
            os.close(fd)
        raise
    if pid == 0:
        try:
            child_setup([res_w], out_w)
            proptest_child(req, req["modules"], res_w, worker.limits)
        finally:
            os._exit(70)
    os.close(res_w)
    os.close(out_w)
    os.set_blocking(out_r, False)
    res = FrameReader(res_r)
    out = bytearray()
    report = None
    current = None
    example_started = time.monotonic()
    why = None
    while report is None:
        now = time.monotonic()
        if current:
            limit = min(deadline, example_started + float(current.get("limit", per_example)) + 1.0)
        else:
            limit = deadline
        if now >= limit:
            why = "example" if current and limit < deadline else "total"
            break
        ready = select.select([res_r, out_r], [], [], limit - now)[0]
        if out_r in ready:
            worker.drain(out_r, out)
        if res_r in ready:
            alive = res.feed()
            for m in res.frames():
                if m.get("kind") == "example":
                    current, example_started = m, time.monotonic()
                elif m.get("kind") == "example_done":
                    current = None
                elif m.get("kind") == "report":
                    report = m
            if not alive and report is None:
                why = "crashed"
                break
    worker.kill(pid)
    worker.doomed.add(pid)
    os.close(res_r)
    os.close(out_r)
    worker.sweep()
    reply = {
        "id": req["id"],
        "duration_s": round(time.monotonic() - started, 6),
        "stdout": out[: worker.output_limit].decode("utf-8", "replace"),
    }
    if report is not None:
        reply.update(ok="error" not in report, report=report.get("report"), error=report.get("error"))
    else:
        example = current or {}
        if why == "example":
            message = "did not finish within {:g}s".format(float(example.get("limit", per_example)))
        elif why == "total":
            message = f"property tests did not finish within {total:g}s"
        else:
            message = worker.crash_error(worker.exited.get(pid), oom_before)["message"]
        reply.update(
            ok=True,
            report={
                "passed": False,
                "budget_exhausted": why == "total",
                "checked": [],
                "notes": [],
                "failures": [
                    {
                        "function": example.get("function", ""),
                        "property": example.get("property", "finishes within the limit"),
                        "falsifying_example": example.get("example", ""),
                        "message": message,
                    }
                ],
            },
        )
    worker.reply(reply)
