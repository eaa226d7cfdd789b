"""Read a function repository into report data: its steps, their diffs, the final functions.

The only module of the report that knows about git, and it knows only through
`fnforge.function_repo` (the store's records and diffs), as DESIGN.md's dependency rule
asks. Tokens, cost and time come from the JSON notes the trainer attaches to each step;
the reader is lenient about their shape, because a note is history and must stay
readable after the trainer changes what it writes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fnforge.function_repo import FunctionRepo, RepoError, StepRecord, tool_schema
from fnforge.report.model import FunctionView, ReportData, StepView


def _number(value: Any) -> float | None:
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
        value = _number(part.get("tokens"))
        if value is None:
            p, c = _number(part.get("prompt_tokens")), _number(part.get("completion_tokens"))
            value = None if p is None and c is None else (p or 0.0) + (c or 0.0)
        if value is not None:
            total, seen = total + value, True
    return int(total) if seen else None


def note_cost(note: dict[str, Any]) -> float | None:
    """Cost in USD of a step's model calls, or None when the note does not say."""
    values = [_number(part.get("cost_usd", part.get("cost"))) for part in _usage_parts(note)]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def note_duration(note: dict[str, Any]) -> float | None:
    """Wall time of a step: its recorded phases plus every other gate's time, or None."""
    if _number(note.get("duration_s")) is not None:
        return _number(note.get("duration_s"))
    total, seen = 0.0, False
    phases = note.get("durations_s")
    phases = phases if isinstance(phases, dict) else {}
    for value in phases.values():
        if _number(value) is not None:
            total, seen = total + float(value), True
    for verdict in note.get("verdicts") or []:
        # a gate already timed as a phase (older notes recorded "validation" there too) counts once
        if isinstance(verdict, dict) and verdict.get("gate") not in phases:
            if _number(verdict.get("duration_s")) is not None:
                total, seen = total + float(verdict["duration_s"]), True
    return total if seen else None


def _train_score(note: dict[str, Any]) -> float | None:
    train = note.get("train")
    return _number(train.get("accuracy")) if isinstance(train, dict) else None


def step_view(repo: FunctionRepo, record: StepRecord) -> StepView:
    """One step record with its diff and the note's tokens, cost and time."""
    try:
        diff = repo.step_diff(record.step)
    except RepoError:
        diff = ""
    note = record.note or {}
    return StepView(
        step=record.step,
        decision=record.decision,
        kind=record.kind,
        run=record.run,
        gate=record.gate,
        reason=record.reason,
        score_before=_number(record.score_before),
        score_after=_number(record.score_after),
        actions=list(record.actions),
        commit=record.commit,
        tokens=note_tokens(note),
        cost_usd=note_cost(note),
        duration_s=note_duration(note),
        diff=diff,
        rolls_back=record.rolled_back,
        train_score=_train_score(note),
        reviewed_by=reviewer(note),
    )


def reviewer(note: dict[str, Any]) -> str | None:
    """Who approved or rejected the step by hand (`fnforge approve/reject`), if anyone."""
    review = note.get("review")
    who = review.get("reviewer") if isinstance(review, dict) else None
    return str(who) if who else None


def function_views(repo: FunctionRepo) -> list[FunctionView]:
    """The set's functions at the branch head, each with its derived tool schema."""
    views = []
    for name, source in sorted(repo.functions().items()):
        try:
            schema = tool_schema(source, name)
        except Exception:  # noqa: BLE001 - a module without a schema still belongs in the report
            schema = {}
        views.append(FunctionView(name=name, source=source, schema=schema))
    return views


def collect(root: Path, branch: str | None = None) -> ReportData:
    """Everything the report shows about the repository at `root`."""
    with FunctionRepo.open(root) as repo:
        if branch:
            repo.branch = branch
        records = repo.steps(include_rejected=True)
        return ReportData(
            title=f"fnforge run: {Path(repo.root).name}",
            branch=repo.branch,
            head=repo.head(),
            steps=[step_view(repo, r) for r in records],
            functions=function_views(repo),
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            task=repo.settings.task.name,
            analyses=_analyses(repo, records),
            estimates=run_estimates(Path(repo.root), {r.run for r in records}),
            notes_by_run=_notes_by_run(records),
        )


def run_estimates(root: Path, runs: set[str]) -> dict[str, Any]:
    """The estimate each run kept when it started (`.git/fnforge/runs/<run>/estimate.json`)."""
    import json

    out = {}
    for run in sorted(runs):
        path = Path(root) / ".git" / "fnforge" / "runs" / run / "estimate.json"
        try:
            out[run] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return out


def _notes_by_run(records: list[StepRecord]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in sorted(records, key=lambda r: r.step):
        if r.kind == "step" and (r.note or {}).get("made_by") == "trainer":
            out.setdefault(r.run, []).append(r.note)
    return out


def _analyses(repo: FunctionRepo, records: list[StepRecord]) -> object:
    from fnforge.report.analyses import collect_analyses

    return collect_analyses(repo, records)
