"""Math-Verify judgements under a hard time limit: a small pool of killable worker processes.

The MATH evaluator settles only a sole boxed answer whose verdict is certain itself;
everything else (reading the answer out of an output, `\\frac{\\sqrt{2}}{2}` vs
`\\frac{1}{\\sqrt{2}}`, sets, matrices, relations) is Math-Verify's job, done in `symbolic_worker`. A request that runs past `timeout_s` kills its
worker (a fresh one starts on the next request) and comes back undecided with reason
`timeout`, so a hostile input costs at most the time limit. The pool is thread-safe, so the
engine may judge from many threads at once.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import selectors
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding `fnforge/`
STARTUP_TIMEOUT_S = 120.0  # importing sympy on a busy 2-core machine; not part of a check's limit
CACHE_SIZE = 100_000  # decided judgements kept
CACHE_MAX_TEXT = 2_000  # longer outputs are not kept (memory stays bounded)


TIMEOUT = "timeout"  # the note of a request that ran past its limit


@dataclass(frozen=True)
class SymbolicResult:
    """The outcome of one check: equal True/False, or None when undecided (with the reason;
    `timeout` when it ran past the limit)."""

    equal: bool | None
    note: str = ""


class _Worker:
    def __init__(self) -> None:
        # a minimal environment (no host secrets), able to import fnforge even from a plain checkout
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fnforge.evaluators.symbolic_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
        )
        self.ready = False

    def _read_line(self, timeout_s: float) -> str | None:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout_s):
                return None
        return self.proc.stdout.readline() or None

    def request(self, payload: dict, timeout_s: float) -> tuple[dict | None, str]:
        """The worker's JSON reply, or (None, why not) when it timed out, died or sent garbage."""
        if not self.ready:
            line = self._read_line(STARTUP_TIMEOUT_S)
            if line is None:
                self.kill()
                return None, "Math-Verify worker did not start"
            self.ready = True
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(payload) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            return None, "Math-Verify worker died"
        line = self._read_line(timeout_s)
        if line is None:
            self.kill()
            return None, TIMEOUT
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            self.kill()
            return None, "Math-Verify worker sent garbage"
        return (reply, "") if isinstance(reply, dict) else (None, "Math-Verify worker sent garbage")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass


class SymbolicChecker:
    """Runs Math-Verify in up to `workers` processes, each request under `timeout_s`."""

    def __init__(self, workers: int = 2, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(max(1, workers)):
            self._idle.put(None)  # a slot; the process starts on first use
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._decided: dict[tuple, SymbolicResult] = {}  # undecided results are retried

    def judge(self, gold: str, pred: str, hint: str | None = None) -> SymbolicResult:
        """Whether the output `pred` answers the reference `gold` (both texts Math-Verify reads);
        `hint` is the answer span fnforge read, tried when Math-Verify finds none."""
        key = (gold, pred, hint)
        hit = self._decided.get(key)
        if hit is not None:
            return hit
        reply, why = self._request({"gold": gold, "pred": pred, "hint": hint})
        if reply is None:
            return SymbolicResult(None, why)
        equal = reply.get("equal")
        result = SymbolicResult(equal if isinstance(equal, bool) else None, str(reply.get("error", ""))[:200])
        if result.equal is not None and len(pred) <= CACHE_MAX_TEXT and len(self._decided) < CACHE_SIZE:
            self._decided[key] = result
        return result

    def readable(self, gold: str) -> SymbolicResult:
        """Whether a reference yields an answer at all (equal=True), within the time limit."""
        reply, why = self._request({"read": gold})
        if reply is None:
            return SymbolicResult(None, why)
        return SymbolicResult(bool(reply.get("readable")), str(reply.get("error", ""))[:200])

    def _request(self, payload: dict) -> tuple[dict | None, str]:
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive():
                worker = _Worker()
                with self._lock:
                    self._all.append(worker)
            reply, why = worker.request(payload, self.timeout_s)
            if not worker.alive():  # killed: its successor starts importing now, not on the next request
                worker = _Worker()
                with self._lock:
                    self._all = [w for w in self._all if w.alive()] + [worker]
            return reply, why
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop every worker process (also done at interpreter exit)."""
        with self._lock:
            for worker in self._all:
                worker.kill()
            self._all.clear()


_shared: dict[float, SymbolicChecker] = {}
_shared_lock = threading.Lock()


def shared_checker(timeout_s: float = 5.0) -> SymbolicChecker:
    """The process-wide checker for a time limit (workers are expensive to start; share them)."""
    with _shared_lock:
        checker = _shared.get(timeout_s)
        if checker is None:
            checker = _shared[timeout_s] = SymbolicChecker(
                workers=min(2, os.cpu_count() or 1), timeout_s=timeout_s
            )
            atexit.register(checker.close)
        return checker
