"""A training run as the repository records it: its steps, its name, and how far it got.

Everything the trainer needs to continue lives in the repository, so these read it: the
recorded steps (and candidates awaiting review) of a run, the latest run for `--resume`, a
fresh run name, and where a run stands in its batch schedule and its patience.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnforge.engine.transcripts import runs_dir
from fnforge.function_repo.review import waiting

INTERRUPTED = "interrupted"  # the gate of a step stopped by Ctrl-C or an endpoint that stayed down


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


def progress_state(records: Sequence[Any]) -> tuple[int, int]:
    """(position in the batch schedule, steps since the last improvement) of a run so far.

    Interrupted steps do not advance the schedule or count against patience: their batch is
    redone on resume.
    """
    position = 0
    since = 0
    for r in records:
        if r.gate == INTERRUPTED:
            continue
        position += 1
        if getattr(r, "waiting", False):  # its batch is done; whether it improves is the reviewer's call
            continue
        since = 0 if r.accepted else since + 1
    return position, since
