"""Read a function repository into report data: the run model plus diffs and the final functions.

The only module of the report that reads diffs and sources, and it reads them only through
`fnforge.function_repo` (the store's records and diffs), as DESIGN.md's dependency rule asks.
The steps, candidates waiting and the step in flight come from `run_model.read_run`, the
same model `fnforge watch` serves, so the report and the live page say the same things.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fnforge.function_repo import FunctionRepo, RepoError, StepRecord, tool_schema
from fnforge.report.model import FunctionView, ReportData, StepView
from fnforge.report.run_model import RunState, read_run
from fnforge.report.step_figures import note_cost, note_duration, note_tokens, reviewer

__all__ = ["collect", "function_views", "note_cost", "note_duration", "note_tokens", "reviewer"]


def with_diff(repo: FunctionRepo, view: StepView) -> StepView:
    """The step's view with its diff (empty when git cannot tell it)."""
    try:
        diff = repo.step_diff(view.step)
    except RepoError:
        diff = ""
    return dataclasses.replace(view, diff=diff)


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


def report_data(repo: FunctionRepo, state: RunState) -> ReportData:
    """Everything the page shows: `state` (the run model) plus diffs, functions and analyses."""
    records = repo.steps(include_rejected=True)
    return ReportData(
        title=f"fnforge run: {Path(repo.root).name}",
        branch=state.branch,
        head=state.head,
        steps=[with_diff(repo, s) for s in state.steps],
        functions=function_views(repo),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        task=repo.settings.task.name,
        analyses=_analyses(repo, records),
        waiting=state.waiting,
        in_flight=state.in_flight,
        version=state.version,
        estimates=run_estimates(Path(repo.root), {r.run for r in records}),
        notes_by_run=_notes_by_run(records),
    )


def collect(root: Path, branch: str | None = None) -> ReportData:
    """Everything the report shows about the repository at `root`."""
    with FunctionRepo.open(root) as repo:
        if branch:
            repo.branch = branch
        return report_data(repo, read_run(repo))


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
