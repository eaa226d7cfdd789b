"""The property-test host: runs the runner the host sends in a fresh child, under watchdogs.

The runner (fnforge/sandbox/proprunner.py and its sibling proptypes.py, sent as sources
with each `proptest` request and imported here as the package `fnforge_proptest`) announces
every example before calling it; the worker kills the child when one example overruns its
limit or the whole run overruns its budget, and says which in the reply (an `Overrun`):
`budget_exhausted` is true when the overall budget ran out.
"""

import enum
import os
import select
import sys
import time
import types

from .call_child import error_of, flush_std
from .function_set import install_functions
from .output import CapturedOutput
from .processes import apply_rlimits, child_setup, die_with_parent, fork, set_oom_score
from .protocol import FrameReader, frame, write_all

RUNNER_PACKAGE = "fnforge_proptest"


class Overrun(enum.Enum):
    """Why the worker stopped a property run before its report arrived."""

    EXAMPLE = "example"  # one announced example overran its own limit
    TOTAL = "total"  # the whole run overran its budget
    CRASHED = "crashed"  # the child ended without a report


def proptest_child(req, modules, res_w, limits):
    """Runs in a fresh child of the worker: import the set and the runner, report properties."""
    os.setsid()
    set_oom_score(1000)
    die_with_parent(limits)
    if limits:
        apply_rlimits(limits)
    try:
        install_errors = install_functions(modules)
        runner = load_runner(req["runner"])

        def emit(obj):
            write_all(res_w, frame(obj))

        report = runner.run(
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


def load_runner(sources):
    """Import the runner's modules ([name, source] pairs, imports first) as the package
    `fnforge_proptest`, so they import one another as siblings; the last one is the runner."""
    package = types.ModuleType(RUNNER_PACKAGE)
    package.__path__ = []
    sys.modules[RUNNER_PACKAGE] = package
    module = None
    for name, source in sources:
        module = types.ModuleType(f"{RUNNER_PACKAGE}.{name}")
        module.__package__ = RUNNER_PACKAGE
        module.__file__ = f"{RUNNER_PACKAGE}/{name}.py"
        sys.modules[module.__name__] = module
        setattr(package, name, module)
        exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def proptest(req, table, output_limit, sweep):
    """Run the property runner in a fresh child, with a watchdog on each announced example.

    `table` is the worker's ProcessTable, `sweep` removes what the run left behind; the
    reply is returned for the worker to send.
    """
    run = PropertyRun(req, table.oom_count(), CapturedOutput(output_limit))
    pid, res_r, out_r = start_child(req, table)
    run.watch(FrameReader(res_r), out_r)
    table.kill(pid)
    table.doomed.add(pid)
    os.close(res_r)
    os.close(out_r)
    sweep()
    reply = {
        "id": req["id"],
        "duration_s": round(time.monotonic() - run.started, 6),
        "stdout": run.output.text(),
    }
    if run.report is not None:
        report = run.report
        reply.update(ok="error" not in report, report=report.get("report"), error=report.get("error"))
    else:
        crashed = run.overrun is Overrun.CRASHED
        crash = table.crash_error(table.exited.get(pid), run.oom_before) if crashed else None
        reply.update(ok=True, report=run.overrun_report(crash))
    return reply


def start_child(req, table):
    """Fork the child that runs the runner; (pid, result pipe, output pipe) of the worker's side."""
    res_r, res_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        pid = fork(table.reap)
    except OSError:
        for fd in (res_r, res_w, out_r, out_w):
            os.close(fd)
        raise
    if pid == 0:
        try:
            child_setup([res_w], out_w)
            proptest_child(req, req["modules"], res_w, table.limits)
        finally:
            os._exit(70)
    os.close(res_w)
    os.close(out_w)
    os.set_blocking(out_r, False)
    return pid, res_r, out_r


class PropertyRun:
    """One property run as the worker watches it: the example in flight, the report, an overrun."""

    def __init__(self, req, oom_before, output):
        self.started = time.monotonic()
        self.total = float(req.get("timeout", 60))
        self.per_example = float(req.get("call_timeout", 5))
        self.deadline = self.started + self.total
        self.oom_before = oom_before
        self.output = output
        self.report = None  # the runner's "report" message
        self.current = None  # the announced example running now
        self.example_started = self.started
        self.overrun = None  # an Overrun when the worker stopped the run

    def limit(self):
        """When the run must be stopped: the example's own limit (+1s) or the overall budget."""
        if self.current:
            own = float(self.current.get("limit", self.per_example)) + 1.0
            return min(self.deadline, self.example_started + own)
        return self.deadline

    def watch(self, res, out_r):
        """Follow the runner's announcements until its report, an overrun, or its death."""
        while self.report is None:
            now, limit = time.monotonic(), self.limit()
            if now >= limit:
                self.overrun = Overrun.EXAMPLE if self.current and limit < self.deadline else Overrun.TOTAL
                return
            ready = select.select([res.fd, out_r], [], [], limit - now)[0]
            if out_r in ready:
                self.output.read(out_r)
            if res.fd in ready:
                alive = res.feed()
                self.take(res.frames())
                if not alive and self.report is None:
                    self.overrun = Overrun.CRASHED
                    return

    def take(self, messages):
        """An example starts or ends, or the report arrives."""
        for m in messages:
            if m.get("kind") == "example":
                self.current, self.example_started = m, time.monotonic()
            elif m.get("kind") == "example_done":
                self.current = None
            elif m.get("kind") == "report":
                self.report = m

    def overrun_report(self, crash):
        """The failing report of a run the worker stopped (`crash` names a death)."""
        example = self.current or {}
        if self.overrun is Overrun.EXAMPLE:
            message = "did not finish within {:g}s".format(float(example.get("limit", self.per_example)))
        elif self.overrun is Overrun.TOTAL:
            message = f"property tests did not finish within {self.total:g}s"
        else:
            message = crash["message"]
        failure = {
            "function": example.get("function", ""),
            "property": example.get("property", "finishes within the limit"),
            "falsifying_example": example.get("example", ""),
            "message": message,
        }
        return {
            "passed": False,
            "budget_exhausted": self.overrun is Overrun.TOTAL,
            "checked": [],
            "notes": [],
            "failures": [failure],
        }
