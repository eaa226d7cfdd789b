"""Custom tasks: the user's own judge, `module:function(task, output) -> bool | float`.

A user with their own benchmark names a function in their repository (in `fnforge.toml`
or on the command line as `custom:mypkg.checks:judge`). It is the user's trusted code and
runs on the host. Tasks come from plain JSONL (`question`, `answer`, any other fields are
shown to the agent as inputs, `metadata` is kept for categories).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fnforge.evaluators.extract import final_sentence_number, marked_answer
from fnforge.evaluators.loading import ID_FIELDS, Record
from fnforge.evaluators.task import Evaluator, EvaluatorError, ItemResult, Task

PASS_MARK = 0.5  # a float score counts as correct at or above this


def import_judge(module: str, function: str, repo_root: Path | None) -> Callable[[Task, str], Any]:
    """Import the user's judge from their repository; a clear error when it is not there."""
    root = str(Path(repo_root or Path.cwd()).resolve())
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    parts = module.split(".")
    for name in (".".join(parts[: n + 1]) for n in range(len(parts))):
        cached = sys.modules.get(name)
        if cached is not None and not str(getattr(cached, "__file__", "") or "").startswith(root + os.sep):
            del sys.modules[name]  # a module of that name from another repository: import this one's
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise EvaluatorError(
            f"custom task: cannot import module {module!r} from {root} ({e}); "
            f"create {module.replace('.', '/')}.py there or fix the name in custom:{module}:{function}"
        ) from None
    finally:
        if added:
            sys.path.remove(root)
    judge = getattr(mod, function, None)
    if not callable(judge):
        raise EvaluatorError(
            f"custom task: {module!r} has no function {function!r}; define "
            f"`def {function}(task, output) -> bool | float` in it"
        )
    return judge


class CustomEvaluator(Evaluator):
    """Judges with the user's function; a judge that raises or returns junk scores 0, with a note."""

    categories = ("category",)

    def __init__(self, module: str, function: str, repo_root: Path | None = None) -> None:
        self.name = f"custom:{module}:{function}"
        self.repo_root = repo_root  # where the judge was imported from (an index worker imports it again)
        self.judge_function = import_judge(module, function, repo_root)

    def task(self, record: Record) -> Task:
        f = dict(record.fields)
        metadata = f.pop("metadata", None) or {}
        if not isinstance(metadata, dict):
            raise EvaluatorError(f"{record.where}: `metadata` must be a JSON object")
        reference = f.pop("answer", None)
        inputs = {k: v for k, v in f.items() if k not in ID_FIELDS}
        if not inputs:
            raise EvaluatorError(f"{record.where}: no inputs for the agent; add a `question` field")
        return Task(id=record.id, inputs=inputs, reference=reference, metadata=metadata)

    def render(self, task: Task) -> str:
        if set(task.inputs) == {"question"}:
            body = str(task.inputs["question"])
        else:
            body = "\n".join(f"{k}: {v}" for k, v in task.inputs.items())
        return f"{body}\n\nEnd your reply with a final line `Answer: <your answer>`."

    def direct_arguments(self, task: Task) -> dict[str, Any]:
        return dict(task.inputs)

    def extract(self, output: str) -> str | None:
        if not output or not output.strip():
            return None
        return (
            marked_answer(output) or final_sentence_number(output) or output.strip().splitlines()[-1].strip()
        )

    def judge(self, task: Task, output: str) -> ItemResult:
        extracted = self.extract(output)
        note = ""
        try:
            verdict = self.judge_function(task, output)
        except Exception as e:  # the user's code: its failure is this item's verdict, not the run's end
            verdict, note = 0.0, f"judge raised {type(e).__name__}: {e}"[:300]
        if isinstance(verdict, bool):
            score = float(verdict)
        elif isinstance(verdict, int | float):
            score = min(1.0, max(0.0, float(verdict)))
        else:
            score, note = 0.0, note or f"judge returned {type(verdict).__name__}; expected bool or float"
        return ItemResult(
            id=task.id,
            correct=score >= PASS_MARK,
            extracted=extracted,
            reference="" if task.reference is None else str(task.reference),
            score=score,
            note=note,
        )
