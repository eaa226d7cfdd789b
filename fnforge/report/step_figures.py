"""A step's figures as every view of a run shows them: tokens, cost, time, scores, reviewer.

The report, `fnforge watch` and the MLflow sink all read a step's figures through these
functions, so a number is worked out once and the views never disagree. They read the JSON
note the trainer attaches to each step leniently, because a note is history and must stay
readable after the trainer changes what it writes.
"""

from __future__ import annotations

import math
from typing import Any

from fnforge.report.model import StepView


def number(value: Any) -> float | None:
    """A finite number as float, else None (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _usage_parts(note: dict[str, Any]) -> list[dict[str, Any]]:
    """The usage records of a note: the trainer's phases ({"usage": {"train": {...}, "optimizer":
    {...}}}, or flat) and each gate's, from its verdict's details, where a gate's figures live.

    Older notes also copied a gate's usage among the phases; such a gate counts once.
    """
    usage = note.get("usage")
    phases = {k: v for k, v in usage.items() if isinstance(v, dict)} if isinstance(usage, dict) else {}
    parts = list(phases.values()) or [usage if isinstance(usage, dict) else note]
    for verdict in note.get("verdicts") or []:
        details = verdict.get("details") if isinstance(verdict, dict) else None
        if isinstance(details, dict) and isinstance(details.get("usage"), dict):
            if verdict.get("gate") not in phases:
                parts.append(details["usage"])
    return parts


def note_tokens(note: dict[str, Any]) -> int | None:
    """Tokens spent by a step (agent and optimizer), or None when the note does not say."""
    total, seen = 0.0, False
    for part in _usage_parts(note):
        value = number(part.get("tokens"))
        if value is None:
            p, c = number(part.get("prompt_tokens")), number(part.get("completion_tokens"))
            value = None if p is None and c is None else (p or 0.0) + (c or 0.0)
        if value is not None:
            total, seen = total + value, True
    return int(total) if seen else None


def note_cost(note: dict[str, Any]) -> float | None:
    """Cost in USD of a step's model calls, or None when the note does not say."""
    values = [number(part.get("cost_usd", part.get("cost"))) for part in _usage_parts(note)]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def note_duration(note: dict[str, Any]) -> float | None:
    """Wall time of a step: its recorded phases plus every other gate's time, or None."""
    if number(note.get("duration_s")) is not None:
        return number(note.get("duration_s"))
    total, seen = 0.0, False
    phases = note.get("durations_s")
    phases = phases if isinstance(phases, dict) else {}
    for value in phases.values():
        if number(value) is not None:
            total, seen = total + float(value), True
    for verdict in note.get("verdicts") or []:
        # a gate already timed as a phase (older notes recorded "validation" there too) counts once
        if isinstance(verdict, dict) and verdict.get("gate") not in phases:
            if number(verdict.get("duration_s")) is not None:
                total, seen = total + float(verdict["duration_s"]), True
    return total if seen else None


def train_score(note: dict[str, Any]) -> float | None:
    """The head's score on the step's training batch, when the trainer recorded it."""
    train = note.get("train")
    return number(train.get("accuracy")) if isinstance(train, dict) else None


def validation_tasks_used(note: dict[str, Any]) -> int | None:
    """How many validation tasks the step's validation gate scored (None when it did not run)."""
    for verdict in note.get("verdicts") or []:
        if isinstance(verdict, dict) and verdict.get("gate") == "validation":
            details = verdict.get("details") if isinstance(verdict.get("details"), dict) else {}
            for key in ("tasks_used", "used", "n"):
                if number(details.get(key)) is not None:
                    return int(details[key])
    return None


def reviewer(note: dict[str, Any]) -> str | None:
    """Who approved or rejected the step by hand (`fnforge approve/reject`), if anyone."""
    review = note.get("review")
    who = review.get("reviewer") if isinstance(review, dict) else None
    return str(who) if who else None


def step_view(record: Any, diff: str = "") -> StepView:
    """One decided step (a function_repo StepRecord) with the figures of its note."""
    note = record.note or {}
    return StepView(
        step=record.step,
        decision=record.decision,
        kind=record.kind,
        run=record.run,
        gate=record.gate,
        reason=record.reason,
        score_before=number(record.score_before),
        score_after=number(record.score_after),
        actions=list(record.actions),
        commit=record.commit,
        tokens=note_tokens(note),
        cost_usd=note_cost(note),
        duration_s=note_duration(note),
        diff=diff,
        rolls_back=getattr(record, "rolled_back", None),  # a candidate waiting for review has none
        train_score=train_score(note),
        reviewed_by=reviewer(note),
        validation_tasks=validation_tasks_used(note),
    )
