"""Reading a repository's steps back: trailers, notes, and the records built from them.

`fnforge log` must answer in well under a second on 1,000 steps, so the whole history is
read with ONE `git log` (the branch's first-parent line plus every rejected ref, trailers
and notes in the same output) instead of one git call per step.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from fnforge.function_repo.plumbing import Git

REJECTED_PREFIX = "refs/fnforge/rejected"
CANDIDATE_PREFIX = "refs/heads/fnforge"
NOTES_REF = "refs/notes/fnforge"
_FORMAT = "%x1e%H%x1f%P%x1f%(trailers:only,unfold)%x1f%N"


@dataclass(frozen=True)
class StepRecord:
    """One numbered step as the history tells it: decided, with its reason and scores.

    `commit` is the merge (accepted), the rollback commit, or the rejection record kept
    under `refs/fnforge/rejected/<run>/step-<n>`; `note` is the JSON note on it.
    """

    step: int
    run: str
    decision: Literal["accepted", "rejected"]
    gate: str | None
    reason: str
    score_before: float | None
    score_after: float | None
    actions: list[str]
    commit: str
    note: dict[str, Any] = field(default_factory=dict)
    kind: Literal["step", "rollback"] = "step"

    @property
    def accepted(self) -> bool:
        """True when the step changed the set's branch."""
        return self.decision == "accepted"

    @property
    def rolled_back(self) -> int | None:
        """For a rollback step, the step it undid."""
        value = self.note.get("rolls_back")
        return int(value) if value is not None else None


def format_score(value: float | None) -> str:
    """A score as written in the `Fnforge-Score` trailer and the log (`n/a` when unknown)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"


def one_line(text: str, limit: int = 300) -> str:
    """Trailer values must be a single line; long reasons are cut (the note keeps them whole)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def message(title: str, trailers: list[tuple[str, str]], body: str = "") -> str:
    """A commit message whose last paragraph is trailers `git interpret-trailers` can parse."""
    parts = [one_line(title, 120)]
    if body.strip():
        parts.append(body.strip())
    parts.append("\n".join(f"{k}: {one_line(v)}" for k, v in trailers))
    return "\n\n".join(parts) + "\n"


def parse_trailers(text: str) -> dict[str, list[str]]:
    """`Key: value` lines -> {key: [values]} (a key may repeat, e.g. Fnforge-Action)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def _score(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def record_from(sha: str, trailers: dict[str, list[str]], note: dict[str, Any]) -> StepRecord | None:
    """Build a record from a decided commit's trailers and note; None if it is not a step."""
    if "Fnforge-Step" not in trailers or "Fnforge-Decision" not in trailers:
        return None
    try:
        step = int(trailers["Fnforge-Step"][0])
    except ValueError:
        return None
    decision_text = trailers["Fnforge-Decision"][0]
    decision, _, why = decision_text.partition(":")
    decision = decision.strip()
    gate = None
    reason = why.strip()
    if decision == "rejected":
        gate, _, reason = why.strip().partition(":")
        gate, reason = gate.strip(), reason.strip()
    before, _, after = trailers.get("Fnforge-Score", ["n/a"])[0].partition("->")
    kind = "rollback" if "Fnforge-Rollback" in trailers else "step"
    return StepRecord(
        step=step,
        run=trailers.get("Fnforge-Run", [""])[0],
        decision="accepted" if decision == "accepted" else "rejected",
        gate=note.get("gate", gate) if decision == "rejected" else None,
        reason=note.get("reason", reason),
        score_before=note.get("score_before", _score(before.strip())),
        score_after=note.get("score_after", _score(after.strip())),
        actions=list(trailers.get("Fnforge-Action", [])),
        commit=sha,
        note=note,
        kind=kind,
    )


def read_steps(git: Git, branch: str, include_rejected: bool, notes: bool = True) -> list[StepRecord]:
    """Every decided step in one `git log`: the branch's first-parent line (+ rejected refs).

    Walking first parents from a rejection record also passes its candidate commits and
    the branch line it started from; those carry no decision and are skipped. `notes=False`
    leaves the notes unread (records with an empty note): what needs only step numbers and
    decisions does not parse every step's JSON note, which grows with the run.
    """
    fmt = _FORMAT if notes else _FORMAT.removesuffix("%x1f%N")
    args = ["log", "--first-parent", f"--format={fmt}", f"refs/heads/{branch}"]
    if notes:
        args.insert(2, f"--notes={NOTES_REF}")
    if include_rejected:
        args.append(f"--glob={REJECTED_PREFIX}")
    out = git.run(*args)
    records: dict[int, StepRecord] = {}
    for chunk in out.split("\x1e"):
        if not chunk.strip():
            continue
        sha, _parents, trailer_text, note_text = (chunk.split("\x1f") + ["", "", ""])[:4]
        trailers = parse_trailers(trailer_text)
        if "Fnforge-Decision" not in trailers:
            continue
        note: dict[str, Any] = {}
        if note_text.strip():
            try:
                parsed = json.loads(note_text)
                note = parsed if isinstance(parsed, dict) else {}
            except json.JSONDecodeError:
                note = {}
        rec = record_from(sha.strip(), trailers, note)
        if rec is not None and (include_rejected or rec.accepted):
            records.setdefault(rec.step, rec)
    return [records[k] for k in sorted(records)]
