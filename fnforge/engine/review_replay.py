"""A person's review decisions, replayed where they were made, for `fnforge train --offline`.

With `[training] review = "human"` a run's decisions are not all the trainer's: a person
approved or rejected candidates between invocations of `train`. Their notes keep each
decision (`review`: state, reviewer, message) and when it was made (`after_step`: the last
step taken then). An offline replay must make the same decisions at the same points, or
every later step differs (the head, the history the optimizer reads, patience); so before
each step the trainer asks `RecordedReviews.apply` to make the decisions that were made by
then, as the person did: `approve` (the gates run again against a moved head, as the CLI's
approve does) or `reject` with their reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fnforge.engine.run_records import decided_at
from fnforge.engine.validation import validation_gate
from fnforge.function_repo.review import approve, reject, waiting


@dataclass(frozen=True)
class RecordedReview:
    """One decision a person made: on which step, approve or reject, their words, and when."""

    step: int
    approved: bool
    message: str
    after_step: int


class RecordedReviews:
    """The decisions of one recorded run, made again in a replica at the points they were made."""

    def __init__(self, records: Sequence[Any]):
        decided = [
            r
            for r in records
            if ((r.note or {}).get("review") or {}).get("state") in ("approved", "rejected")
        ]
        self.pending = []
        for r in sorted(decided, key=decided_at):  # in the order the person made them
            review = r.note["review"]
            after = int(review.get("after_step") or r.step)
            self.pending.append(
                RecordedReview(r.step, review["state"] == "approved", review.get("message", ""), after)
            )

    def __bool__(self) -> bool:
        return bool(self.pending)

    def apply(self, trainer: Any) -> None:
        """Make every decision that was made before the trainer's next step (of waiting candidates)."""
        repo = trainer.repo
        next_step = repo.next_step()
        due = [d for d in self.pending if d.after_step < next_step]
        if not due:
            return
        waits = {w.step for w in waiting(repo)}
        for d in due:
            if d.step not in waits:
                continue  # not waiting in the replica: the replay's own steps differ, and the comparison says so
            self.pending.remove(d)
            if d.approved:
                approve(repo, d.step, message=d.message, regate=lambda: _gates(trainer))
            else:
                reject(repo, d.step, d.message)
            trainer.progress("reviewed", step=d.step, approved=d.approved)


def _gates(trainer: Any) -> list[Any]:
    """The gates an approval runs again against a moved head: the candidate gates, then validation."""
    exp = trainer.exp
    return [*trainer.candidate_gates, validation_gate(exp.scorer, exp.val_tasks, exp.settings)]
