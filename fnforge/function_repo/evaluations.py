"""Evaluations kept beside the history: a set scored on other data, task kinds or models.

`fnforge eval` with another dataset, task or model (the paper's transfer study), or on the
sealed test split, is not a training decision: it must not enter the run's history (steps,
trailers, `refs/notes/fnforge`). Each evaluation is kept as one JSON line in a note on the
evaluated commit under its own notes ref, `refs/notes/fnforge-evals`, so plain git shows it
(`git notes --ref fnforge-evals show <commit>`), it travels with the repository when that ref
is pushed, and the report reads it back into a table.
"""

from __future__ import annotations

import json
from typing import Any

EVALS_NOTES = "fnforge-evals"  # refs/notes/fnforge-evals


def record_evaluation(git: Any, sha: str, record: dict[str, Any]) -> None:
    """Append one evaluation (a JSON object) to the evaluations note of commit `sha`."""
    old = git.run("notes", "--ref", EVALS_NOTES, "show", sha, check=False)
    lines = [line for line in old.splitlines() if line.strip().startswith("{")]
    lines.append(json.dumps(record, sort_keys=True, ensure_ascii=False))
    git.run(
        "notes",
        "--ref",
        EVALS_NOTES,
        "add",
        "-f",
        "-F",
        "-",
        sha,
        input="\n".join(lines) + "\n",
        identity=True,
    )


def read_evaluations(git: Any) -> list[dict[str, Any]]:
    """Every kept evaluation, each with the `commit` it scored; unreadable lines are skipped."""
    listing = git.run("notes", "--ref", EVALS_NOTES, "list", check=False)
    out: list[dict[str, Any]] = []
    for row in listing.splitlines():
        parts = row.split()
        if len(parts) != 2:
            continue
        blob, commit = parts
        for line in git.run("cat-file", "-p", blob, check=False).splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                out.append({**record, "commit": commit})
    return sorted(out, key=lambda r: str(r.get("at", "")))
