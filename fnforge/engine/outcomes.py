"""What a `train` invocation reports: each step it ran, why it stopped, what it used and spent.

The full record of every step is in git (`function_repo`); these are the invocation's own
figures for the command line (`--json`) and the progress display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepOutcome:
    """What one step of this invocation did (the full record is in git)."""

    step: int
    accepted: bool
    gate: str | None
    reason: str
    score_before: float | None
    score_after: float | None
    actions: list[str]
    train_score: float | None
    duration_s: float
    waiting: bool = False  # passed every gate; waits for `fnforge approve/reject` (review = "human")


@dataclass
class TrainingResult:
    """The end of a `train` invocation: its steps, why it stopped, the head's validation score."""

    run: str
    steps: list[StepOutcome] = field(default_factory=list)
    stopped: str = ""
    recovered: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    spend: dict[str, Any] = field(default_factory=dict)  # the ledger's snapshot: the run's spend and limits

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for `--json`."""
        return {
            "run": self.run,
            "stopped": self.stopped,
            "recovered": self.recovered,
            "usage": self.usage,
            "spend": self.spend,
            "steps": [s.__dict__ for s in self.steps],
        }
