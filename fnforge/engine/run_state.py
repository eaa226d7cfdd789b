"""The step in flight: a small JSON file the trainer rewrites as a step moves through its phases.

`fnforge watch` and the report show what a run is doing *now* without ever taking the
training lock, so the trainer publishes it where a reader can look: `.git/fnforge/in-flight.json`,
written whole to a temporary file and moved over the old one with `os.replace`, so a reader
sees the previous state or the next, never half of one. The file holds the run, the step, its
phase (train batch, optimizer, gates, pre-check, validation), tasks done of total, the run's
spend so far and, when a budget ledger is given, its snapshot; the trainer removes it when
the run ends. A file left by a killed trainer names a process that is gone: the reader marks
it `stale` instead of showing a step that nobody is working on.

The trainer is the only writer (`InFlightWriter`); `read_in_flight` is for everyone else.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

IN_FLIGHT_FILE = "in-flight.json"
FORMAT = 1
# phase id -> the words the live page shows
PHASES = {
    "train": "train batch",
    "optimizer": "optimizer",
    "gates": "gates",
    "precheck": "pre-check",
    "validation": "validation",
}
SPEND_KEYS = ("http_requests", "tokens", "cost_usd")


def in_flight_path(git_dir: Path | str) -> Path:
    """Where the in-flight state of the repository whose git directory is `git_dir` lives."""
    return Path(git_dir) / "fnforge" / IN_FLIGHT_FILE


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` so a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".in-flight-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class InFlightWriter:
    """The trainer's side: start a step, change its phase, count its tasks and spend, clear at the end.

    Phase changes are written at once; task counts at most every `min_interval_s` (the first
    and the last of an evaluation always), so a fast evaluation does not turn into a storm of writes.
    A write that fails (a full disk) is dropped: watching a run must never end it.
    """

    def __init__(
        self,
        git_dir: Path | str,
        run: str,
        *,
        min_interval_s: float = 0.2,
        clock: Callable[[], float] = time.time,
    ):
        self.path = in_flight_path(git_dir)
        self.run = run
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.state: dict[str, Any] | None = None
        self._written_at = 0.0

    def start_step(self, step: int, phase: str = "train") -> None:
        """A new step begins (in its first phase, the train batch)."""
        now = self.clock()
        spend = (self.state or {}).get("spend") or dict.fromkeys(SPEND_KEYS, 0)
        budget = (self.state or {}).get("budget")
        self.state = {
            "format": FORMAT,
            "run": self.run,
            "step": int(step),
            "phase": phase,
            "phase_label": PHASES.get(phase, phase),
            "tasks": None,
            "spend": spend,
            "budget": budget,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "step_started_at": _iso(now),
            "phase_started_at": _iso(now),
        }
        self._write()

    def phase(self, phase: str) -> None:
        """The step moves to another phase; its task count starts over."""
        if self.state is None or self.state["phase"] == phase:
            return
        self.state.update(
            phase=phase, phase_label=PHASES.get(phase, phase), tasks=None, phase_started_at=_iso(self.clock())
        )
        self._write()

    def tasks(self, split: str, done: int, total: int) -> None:
        """`done` of `total` tasks of an evaluation (split e.g. "train", "val-candidate") have finished."""
        if self.state is None:
            return
        first = (self.state.get("tasks") or {}).get("split") != split
        self.state["tasks"] = {"split": split, "done": int(done), "total": int(total)}
        if first or done >= total or self.clock() - self._written_at >= self.min_interval_s:
            self._write()

    def spend(self, usage: dict[str, Any], budget: dict[str, Any] | None = None) -> None:
        """The run's spend so far (requests, tokens, dollars) and the budget ledger's snapshot, if any."""
        if self.state is None:
            return
        self.state["spend"] = {k: usage.get(k, 0) for k in SPEND_KEYS}
        if budget is not None:
            self.state["budget"] = budget
        self._write()

    def clear(self) -> None:
        """The run is over: nothing is in flight."""
        self.state = None
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass

    def _write(self) -> None:
        assert self.state is not None
        now = self.clock()
        self.state["updated_at"] = _iso(now)
        try:
            write_atomically(self.path, self.state)
        except OSError:
            return
        self._written_at = now


def _process_gone(state: dict[str, Any]) -> bool:
    """True when the writer ran on this machine and its process no longer exists."""
    pid = state.get("pid")
    if state.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def read_in_flight(git_dir: Path | str) -> dict[str, Any] | None:
    """The step in flight, or None when no run is training; `stale` is true when its trainer died.

    Read-only: this never creates, locks or removes anything.
    """
    try:
        state = json.loads(in_flight_path(git_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or "step" not in state:
        return None
    state["stale"] = _process_gone(state)
    return state
