"""The one place that builds a run's sink from `[tracking]`, and keeps a tracker from ending a run.

A tracker is a convenience beside the history in git: when its package is missing, its
server cannot be reached or a call fails, the run goes on and the user reads one warning
that says what happened and what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnforge.report.model import StepView
from fnforge.tracking.sink import NoSink, StepSink

Warn = Callable[[str], None]


class WarningSink(StepSink):
    """Wraps a sink so that any failure of it becomes a warning instead of the end of the run."""

    def __init__(self, inner: StepSink, warn: Warn, name: str):
        self.inner, self.warn, self.name = inner, warn, name

    def step(self, view: StepView, functions: dict[str, str] | None) -> None:
        """Send the step; a failure is a warning (the step stays recorded in git)."""
        try:
            self.inner.step(view, functions)
        except Exception as e:  # noqa: BLE001 - a tracker must never end a run
            self.warn(f"{self.name}: step {view.step} was not logged ({type(e).__name__}: {_short(e)}); "
                      "it stays recorded in git")  # fmt: skip

    def close(self, stopped: str) -> None:
        """End the tracker's run; a failure is a warning."""
        try:
            self.inner.close(stopped)
        except Exception as e:  # noqa: BLE001 - a tracker must never end a run
            self.warn(f"{self.name}: the run could not be closed ({type(e).__name__}: {_short(e)})")


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def open_sink(settings: Any, root: Path, git_dir: Path, run: str, *, offline: bool, warn: Warn) -> StepSink:
    """The sink `[tracking]` asks for, started for `run`; NoSink when off, offline or unreachable."""
    uri = settings.tracking.mlflow.strip()
    if offline or not uri:
        return NoSink()
    try:
        from fnforge.tracking.mlflow_sink import MlflowSink
    except ImportError as e:
        warn(f"[tracking] mlflow is set but MLflow is not installed ({e}); "
             "install it with pip install 'fnforge[mlflow]'; this run is not tracked")  # fmt: skip
        return NoSink()
    try:
        sink = MlflowSink.start(settings, root=root, git_dir=git_dir, run=run)
    except Exception as e:  # noqa: BLE001 - an unreachable tracker is a warning, never the end of a run
        warn(f"[tracking] mlflow = {uri!r} cannot be used ({type(e).__name__}: {_short(e)}); "
             "this run is not tracked; check the URI or the server")  # fmt: skip
        return NoSink()
    return WarningSink(sink, warn, f"MLflow at {uri}")
