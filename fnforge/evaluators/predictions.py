"""Reading an agent's outputs from a predictions file: `{"id": ..., "output": "..."}` per line.

A predictions file is hand-made or produced by another tool, so it is checked strictly:
a malformed line, an id that is not a task, or the same id twice is an error naming the
line (silently scoring the wrong items would be worse than stopping).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fnforge.evaluators.task import EvaluatorError, Task


def load_predictions(path: Path, tasks: Iterable[Task]) -> dict[str, str]:
    """The outputs by task id; ids are matched as strings (`3` and `"3"` are the same task).

    A `null` output counts as no prediction (the task will be scored missing).
    """
    path = Path(path)
    known = {t.id for t in tasks}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvaluatorError(
            f'{path}: predictions file not found; expected JSONL of {{"id", "output"}}'
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise EvaluatorError(f"{path}: cannot read the predictions ({e}); expected UTF-8 JSONL") from None
    outputs: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvaluatorError(
                f'{where}: not valid JSON ({e.msg}); write one {{"id", "output"}} object per line'
            ) from None
        if not isinstance(record, dict) or "id" not in record or "output" not in record:
            raise EvaluatorError(
                f'{where}: expected an object with "id" and "output", got {line.strip()[:80]}'
            )
        rid, output = record["id"], record["output"]
        if not isinstance(rid, str | int) or isinstance(rid, bool):
            raise EvaluatorError(f'{where}: "id" must be a string or integer, got {json.dumps(rid)[:40]}')
        rid = str(rid)
        if rid not in known:
            raise EvaluatorError(
                f"{where}: id {rid!r} is not a task in the data; check --data matches the predictions"
            )
        if rid in first_line:
            raise EvaluatorError(
                f"{where}: id {rid!r} again (first at line {first_line[rid]}); keep one prediction per task"
            )
        first_line[rid] = number
        if output is None:
            continue
        if not isinstance(output, str):
            raise EvaluatorError(
                f'{where}: "output" must be a string (the agent\'s final text), got {type(output).__name__}'
            )
        outputs[rid] = output
    return outputs
