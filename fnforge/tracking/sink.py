"""The seam between a training run and an experiment tracker: a sink that receives each step.

What varies is where a run's figures go besides git (MLflow today); `choose.open_sink` picks
the sink from `[tracking]`, and the trainer only ever holds a `StepSink`. A sink is handed
the step as the report shows it (`StepView`: the same figures, so the tracker and the report
agree) and, for an accepted step, the function set it merged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from fnforge.report.model import StepView


class StepSink(ABC):
    """Receives a run's steps as they are recorded, then the end of the run."""

    @abstractmethod
    def step(self, view: StepView, functions: dict[str, str] | None) -> None:
        """One recorded step; `functions` is the merged set (name -> module source) when it was accepted."""

    @abstractmethod
    def close(self, stopped: str) -> None:
        """The run stopped (its reason, e.g. "early stop: ..."); flush and end."""


class NoSink(StepSink):
    """Tracking off (`[tracking] mlflow = ""`, or `--offline`): every step goes only to git."""

    def step(self, view: StepView, functions: dict[str, str] | None) -> None:
        """Nothing to send."""

    def close(self, stopped: str) -> None:
        """Nothing to end."""
