"""Opening a run's splits: lazy task sources, their bad-row policy, and the validation sample.

The engine's one door to the data files. A split is opened through `evaluators.open_tasks`
with the repository's index cache (`.git/fnforge/data-index`, beside the reply cache: out of
the tree and out of git objects), bad rows are checked against `[data] max_bad_share`, and
`[data] val_sample` cuts the validation split to the first N tasks of `validation_order` (a
lazy view; nothing is read until scored). `fnforge data check` and `fnforge doctor` report
through `split_reports`, so what they say is what a run would do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnforge.engine.splits import shared_task
from fnforge.engine.validation_order import validation_order
from fnforge.evaluators.errors import EvaluatorError
from fnforge.evaluators.task_index import IndexCache
from fnforge.evaluators.task_sources import SourceReport, TaskSequence, check_bad_share, open_tasks

SPLITS = ("train", "val", "test")


class DataError(ValueError):
    """A split cannot be used (missing, empty, too many bad rows); the message names file and fix."""


def index_cache(root: Path) -> IndexCache:
    """The repository's index cache (none outside a git repository: indexes are built each time)."""
    git = Path(root) / ".git"
    return IndexCache(git / "fnforge" / "data-index" if git.is_dir() else None)


def split_path(root: Path, relative: str) -> Path:
    """A `[data]` path made absolute (paths in fnforge.toml are relative to the repository)."""
    return Path(relative) if Path(relative).is_absolute() else Path(root) / relative


def open_split(
    evaluator: Any, root: Path, relative: str, what: str, max_bad_share: float = 1.0
) -> tuple[TaskSequence, list[str]]:
    """A split as a lazy sequence, and a warning line per file whose bad rows were skipped.

    DataError when the file is missing, holds no task, or has more bad rows than the share.
    """
    path = split_path(root, relative)
    if not path.exists():
        raise DataError(f"[data] {what} = {relative!r}: {path} not found; put the {what} tasks there")
    try:
        tasks = open_tasks(evaluator, path, index_cache(root))
        warnings = check_bad_share(tasks, max_bad_share, f"[data] {what}")
    except EvaluatorError as e:
        raise DataError(str(e)) from None
    if len(tasks) == 0:
        raise DataError(f"[data] {what} = {relative!r}: no tasks in {path}")
    return tasks, warnings


@dataclass(frozen=True)
class ValidationSample:
    """What `[data] val_sample` did: how many of how many validation tasks are scored."""

    size: int
    of: int

    def to_dict(self) -> dict[str, int]:
        """For the step's note and the report."""
        return {"size": self.size, "of": self.of}


def sampled_validation(
    val: Sequence[Any], seed: int, sample: int
) -> tuple[Sequence[Any], ValidationSample | None]:
    """The validation tasks a gate scores: the first `sample` of the seeded order (a lazy view),
    or the whole split (and None) when `sample` is 0 or not smaller than the split."""
    n = len(val)
    if not 0 < sample < n:
        return val, None
    positions = validation_order(n, seed, sample)
    take = getattr(val, "take", None)
    view = take(positions) if take is not None else [val[i] for i in positions]
    return view, ValidationSample(sample, n)


def shared_split_task(exp: Any) -> str | None:
    """The first task train, val and (if set) test share, described, or None.

    The test split is opened here only to compare it; the trainer never receives it. Every
    validation task is compared, also those `[data] val_sample` leaves out; by hashes, reading none.
    """
    splits = {"train": exp.train_tasks, "val": exp.val_split}
    if exp.settings.data.test:
        splits["test"] = exp.sealed_test_tasks()
    return shared_task(splits)


def data_events(exp: Any) -> list[dict[str, Any]]:
    """What a run tells about its data as it starts: each split's files (rows, format, index built
    or cached), each file's skipped bad rows, and the validation sample if one is scored."""
    events: list[dict[str, Any]] = [
        {"split": split, "files": [r.to_dict() for r in reports]}
        for split, reports in exp.data_reports.items()
    ]
    events += [{"warning": line} for line in exp.data_warnings]
    if exp.val_sample is not None:
        events.append({"sample": exp.val_sample.to_dict()})
    return events


@dataclass
class SplitReport:
    """One split as `fnforge data check` sees it: its files, or why it cannot be read."""

    split: str
    path: str
    files: list[SourceReport] = field(default_factory=list)
    error: str = ""
    refused: str = ""  # why a run would refuse to start on it (bad rows over the share)
    missing: bool = False  # no such file yet (a fresh `fnforge init`)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "split": self.split,
            "path": self.path,
            "rows": sum(f.rows for f in self.files),
            "bad_count": sum(f.bad_count for f in self.files),
            "files": [f.to_dict() for f in self.files],
            "error": self.error,
            "refused": self.refused,
            "missing": self.missing,
        }


def split_reports(root: Path, settings: Any) -> list[SplitReport]:
    """Each configured split: rows, format and bad rows per file (indexes built and cached)."""
    from fnforge.evaluators import get_evaluator

    out = []
    evaluator = None
    for split in SPLITS:
        relative = getattr(settings.data, split)
        if not relative:
            continue
        report = SplitReport(split, relative)
        try:
            evaluator = evaluator or get_evaluator(settings.task.name, root)
            path = split_path(root, relative)
            if not path.exists():
                report.missing = True
                raise EvaluatorError(f"{path} not found; put the {split} tasks there")
            tasks = open_tasks(evaluator, path, index_cache(root))
            report.files = tasks.reports()
            check_bad_share(tasks, settings.data.max_bad_share, f"[data] {split}")
        except EvaluatorError as e:
            if report.files:
                report.refused = str(e)
            else:
                report.error = str(e)
        out.append(report)
    return out
