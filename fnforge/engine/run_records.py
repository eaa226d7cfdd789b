"""A training run as the repository records it: its steps, its name, and how far it got.

Everything the trainer needs to continue lives in the repository, so these read it: the
recorded steps (and candidates awaiting review) of a run, the latest run for `--resume`, a
fresh run name, and where a run stands in its batch schedule and its patience.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.engine.transcripts import runs_dir
from fnforge.function_repo.review import AWAITING, waiting

INTERRUPTED = "interrupted"  # the gate of a step stopped by Ctrl-C or an endpoint that stayed down


@dataclass(frozen=True)
class HeldRecord:
    """A step as the trainer holds it between steps: its decision and scores, never its note.

    The trainer reads the repository's records once when a run starts and then appends each
    step it decides, so a step costs the same at step 500 as at step 5 (a note grows with the
    validation set; re-reading all of them every step grew with the run).
    """

    step: int
    run: str
    decision: str
    gate: str | None
    reason: str
    score_before: float | None
    score_after: float | None
    commit: str
    actions: list[str] = field(default_factory=list)
    waiting: bool = False
    # only the note's `review` part (when a person decided: `decided_at` orders by it), never the rest
    note: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """True when the step changed the set's branch."""
        return self.decision == "accepted"

    @classmethod
    def of(cls, r: Any) -> HeldRecord:
        """From a StepRecord, a WaitingCandidate or the StepResult a step just returned."""
        waits = bool(getattr(r, "waiting", False))
        decision = AWAITING if waits else ("accepted" if r.accepted else "rejected")
        return cls(
            step=r.step,
            run=r.run,
            decision=decision,
            gate=r.gate,
            reason=r.reason,
            score_before=r.score_before,
            score_after=r.score_after,
            commit=r.commit,
            actions=list(r.actions),
            waiting=waits,
            note={"review": review} if (review := (getattr(r, "note", None) or {}).get("review")) else {},
        )


def held_records(repo: Any) -> list[HeldRecord]:
    """Every step and waiting candidate of the repository, compact, in step order (read once a run)."""
    return [HeldRecord.of(r) for r in all_records(repo)]


def all_records(repo: Any) -> list[Any]:
    """Every recorded step and every candidate awaiting review (`review = "human"`), in step order."""
    return sorted([*repo.steps(include_rejected=True), *waiting(repo)], key=lambda r: r.step)


def run_records(repo: Any, run: str) -> list[Any]:
    """The recorded steps of one run, and its candidates awaiting review, in step order."""
    return [r for r in all_records(repo) if r.run == run]


def latest_run(repo: Any) -> str | None:
    """The run of the most recent step the trainer recorded (for `--resume` without `--run`)."""
    records = all_records(repo)
    for r in reversed(records):
        if (r.note or {}).get("made_by") == "trainer":
            return r.run
    return None


def started_run(repo: Any) -> str | None:
    """A run that was started but died before recording any step (its transcript folder exists)."""
    known = {r.run for r in all_records(repo)}
    folders = [p for p in runs_dir(repo.root).glob("*") if p.is_dir() and p.name not in known]
    return max(folders, key=lambda p: p.stat().st_mtime).name if folders else None


def next_run_name(repo: Any) -> str:
    """A fresh run name: train-1, train-2, ..."""
    runs = {r.run for r in all_records(repo)}
    n = 1
    while f"train-{n}" in runs:
        n += 1
    return f"train-{n}"


def decided_at(record: Any) -> tuple[int, int, str, int]:
    """When a decided record's decision was made, as a sort key: at its own step, or, when a
    person decided it later, after the last step taken then (`after_step`), in the order
    they decided (their time stamp)."""
    review = (getattr(record, "note", None) or {}).get("review") or {}
    if review.get("after_step") is not None:
        return (int(review["after_step"]), 1, str(review.get("time", "")), record.step)
    return (record.step, 0, "", record.step)


def progress_state(records: Sequence[Any]) -> tuple[int, int]:
    """(position in the batch schedule, steps since the last improvement) of a run so far.

    Interrupted steps do not advance the schedule or count against patience: their batch is
    redone on resume. A candidate awaiting review counts for neither: whether it improves is
    the reviewer's call. A decision a person made counts when they made it: an approval is an
    improvement then (a run that stopped early while it waited goes on after `--resume`),
    a rejection a step without one.
    """
    counted = [r for r in records if r.gate != INTERRUPTED]
    since = 0
    for r in sorted((r for r in counted if not getattr(r, "waiting", False)), key=decided_at):
        since = 0 if r.accepted else since + 1
    return len(counted), since
