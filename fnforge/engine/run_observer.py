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
from types import TracebackType
from typing import Any

from fnforge.engine.llm import Usage
from fnforge.engine.run_state import InFlightWriter
from fnforge.report.step_figures import step_view
from fnforge.tracking import NoSink, StepSink, open_sink

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
        self.stopped = ""  # why the run stopped, from its "stopped" event

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
        elif event == "stopped":
            self.stopped = str(kw.get("reason", ""))
        self.forward(event, **kw)

    def warn(self, line: str) -> None:
        """A tracker's warning, shown as the trainer's own lines are."""
        self.forward("tracking", line=line)

    def close(self, stopped: str) -> None:
        """The run is over: nothing is in flight, and the tracker's run ends."""
        self.in_flight.clear()
        self.sink.close(stopped)

    def __enter__(self) -> RunObserver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(self.stopped or (f"interrupted: {type(exc).__name__}: {exc}" if exc else "interrupted"))

    def _spend(self) -> None:
        self.in_flight.spend(self.usage(), self.budget())

    def _track(self, step: int) -> None:
        """Hand the recorded step (or the candidate now waiting for review) to the sink."""
        from fnforge.function_repo.review import waiting

        if isinstance(self.sink, NoSink):
            return  # tracking off: no need to read the step back
        found = [r for r in self.repo.steps(include_rejected=True) if r.step == step]
        found = found or [w for w in waiting(self.repo) if w.step == step]
        if not found:
            return
        record = found[0]
        functions = self.repo.functions(record.commit) if record.accepted else None
        self.sink.step(step_view(record), functions)


def observe_run(exp: Any, run: str, *, offline: bool, progress: Progress | None) -> RunObserver:
    """The observer of one training run of `exp`: its in-flight file, and the sink `[tracking]` asks
    for (none with `offline`). Spend is the run's own (model usage since now), with the budget
    ledger's snapshot when the experiment has one."""
    forward = progress or (lambda event, **kw: None)
    sink = open_sink(
        exp.settings, exp.root, exp.repo.git_dir, run, offline=offline,
        warn=lambda line: forward("tracking", line=line),
    )  # fmt: skip
    start = exp.llm.usage.copy() if exp.llm is not None else Usage()
    spend = (
        (lambda: (exp.llm.usage - start).to_dict()) if exp.llm is not None else (lambda: Usage().to_dict())
    )
    ledger = getattr(exp, "ledger", None)  # the budget ledger (`[budget]`), where the experiment has one
    budget = getattr(ledger, "snapshot", None)
    return RunObserver(exp.repo, run, sink, usage=spend, budget=budget, forward=forward)
