"""What watches a run from inside: the in-flight state file and the experiment tracker, fed by the trainer's events.

The trainer already says what it is doing through its progress events (`step`, `evaluated`,
`proposed`, `task` with the evaluation's split, `decided`, `stopped`). `RunObserver` sits in
that stream: it keeps `.git/fnforge/in-flight.json` current (`run_state.InFlightWriter`) and
hands each decided step, read back from the repository as the report reads it, to the
tracking sink; then it passes every event on unchanged. So the trainer knows nothing of
watchers, and the figures MLflow receives are the report's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fnforge.engine.run_state import InFlightWriter
from fnforge.report.step_figures import step_view
from fnforge.tracking import StepSink

Progress = Callable[..., None]
# the phase an evaluation's tasks belong to, by the split name the Scorer reports
_SPLIT_PHASES = (("precheck", "precheck"), ("val", "validation"), ("train", "train"))
_EVENT_PHASES = {"evaluated": "optimizer", "proposed": "gates"}


def phase_of_split(split: str) -> str | None:
    """The step phase whose tasks these are: "train", "precheck" or "validation" (None: unknown)."""
    return next((phase for prefix, phase in _SPLIT_PHASES if split.startswith(prefix)), None)


class RunObserver:
    """A progress callback for the trainer that also publishes the step in flight and tracks each step."""

    def __init__(
        self,
        repo: Any,
        run: str,
        sink: StepSink,
        *,
        usage: Callable[[], dict[str, Any]],
        budget: Callable[[], dict[str, Any] | None] | None = None,
        forward: Progress | None = None,
    ):
        self.repo = repo
        self.sink = sink
        self.usage = usage
        self.budget = budget or (lambda: None)
        self.forward = forward or (lambda event, **kw: None)
        self.in_flight = InFlightWriter(repo.git_dir, run)

    def __call__(self, event: str, **kw: Any) -> None:
        """Note the event, then pass it on."""
        if event == "step":
            self.in_flight.start_step(kw["step"])
        elif event in _EVENT_PHASES:
            self.in_flight.phase(_EVENT_PHASES[event])
            self._spend()
        elif event == "task":
            phase = phase_of_split(str(kw.get("split", "")))
            if phase is not None:
                self.in_flight.phase(phase)
            self.in_flight.tasks(str(kw.get("split", "")), kw.get("done", 0), kw.get("total", 0))
        elif event == "decided":
            self._spend()
            self._track(int(kw["step"]))
        elif event == "interrupted" and self.in_flight.state is not None:
            self._track(int(self.in_flight.state["step"]))  # recorded as rejected at "interrupted"
        self.forward(event, **kw)

    def warn(self, line: str) -> None:
        """A tracker's warning, shown as the trainer's own lines are."""
        self.forward("tracking", line=line)

    def close(self, stopped: str) -> None:
        """The run is over: nothing is in flight, and the tracker's run ends."""
        self.in_flight.clear()
        self.sink.close(stopped)

    def _spend(self) -> None:
        self.in_flight.spend(self.usage(), self.budget())

    def _track(self, step: int) -> None:
        """Hand the recorded step (or the candidate now waiting for review) to the sink."""
        from fnforge.function_repo.review import waiting

        found = [r for r in self.repo.steps(include_rejected=True) if r.step == step]
        found = found or [w for w in waiting(self.repo) if w.step == step]
        if not found:
            return
        record = found[0]
        functions = self.repo.functions(record.commit) if record.accepted else None
        self.sink.step(step_view(record), functions)
