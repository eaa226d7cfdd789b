"""Scoring a set where it was not trained: the sealed test split, other data, tasks or models.

The paper's transfer study asks how a set trained on one dataset, task kind or model does on
another. `evaluate` scores the set at any step with the repository's settings overridden for
this one evaluation (the repository's fnforge.toml is not changed), and keeps the result as a
note on the evaluated commit outside the run's history (`FunctionRepo.record_evaluation`), so
the report can show every such evaluation as a table: set x data x model -> score.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fnforge.engine.experiment import Experiment, ExperimentError


def overridden(
    settings: Any, *, task: str | None, data: Path | None, model: str | None, agent: str | None
) -> Any:
    """The settings of one evaluation: the repository's, with the given parts replaced."""
    parts: dict[str, Any] = {}
    if task:
        parts["task"] = settings.task.model_copy(update={"name": task})
    if data is not None:
        parts["data"] = settings.data.model_copy(update={"val": str(data)})
    if model:
        parts["llm"] = settings.llm.model_copy(update={"model": model})
    if agent:
        parts["agent"] = settings.agent.model_copy(update={"mode": agent})
    merged = settings.model_copy(update=parts)
    return type(settings).model_validate(merged.model_dump())  # the overrides are validated too


def evaluate(
    repo: Any,
    ref: str | None,
    *,
    split: str = "val",
    task: str | None = None,
    data: Path | None = None,
    model: str | None = None,
    agent: str | None = None,
    offline: bool = False,
    keep: bool = True,
    pool: Any = None,
) -> dict[str, Any]:
    """Score the set at `ref` on a split, or with another task/data/model/agent; keep it as a note.

    A plain `val`/`train` evaluation is not kept (the run's notes hold those); a test-split
    or transfer evaluation is, unless `keep` is False.
    """
    transfer = any(x is not None for x in (task, data, model, agent))
    if data is not None:
        data = Path(data).resolve()
        if not data.is_file():
            raise ExperimentError(f"--data {data}: no such file")
        split = "val"  # the data file takes the validation slot for this one evaluation
    target: Any = int(ref) if ref is not None and ref.isdigit() else ref
    functions = repo.functions(target)
    try:
        settings = overridden(repo.settings, task=task, data=data, model=model, agent=agent)
    except ValueError as e:
        raise ExperimentError(f"cannot evaluate with these overrides: {str(e).splitlines()[0]}") from None
    with Experiment(repo, offline=offline, splits=(split,), settings=settings, pool=pool) as exp:
        ev = exp.score(functions, split)
    record: dict[str, Any] = {
        "kind": "transfer" if transfer else split,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ref": ref or "head",
        "task": settings.task.name,
        "data": _data_label(repo, settings, split, data),
        "model": None if settings.agent.mode == "direct" else settings.llm.model,
        "agent": settings.agent.mode,
        **ev.summary(),
        "usage": ev.usage.to_dict(),
    }
    by_category = ev.score.to_dict(per_item=False).get("by_category")
    if by_category:
        record["by_category"] = by_category
    if data is not None:
        record["data_sha256"] = hashlib.sha256(data.read_bytes()).hexdigest()[:16]
    if keep and (transfer or split == "test"):
        record["commit"] = repo.record_evaluation(target, record)
    return record


def _data_label(repo: Any, settings: Any, split: str, data: Path | None) -> str:
    if data is None:
        return f"{split}: {getattr(settings.data, split)}"
    try:
        return str(data.relative_to(Path(repo.root).resolve()))
    except ValueError:
        return str(data)
