"""The HTML report of a run: one self-contained file to read a finished run at a glance.

`fnforge report --repo DIR --out report.html` calls `write_report`. The page shows the
learning curve (validation score per step, accepted and rejected marked, rollbacks shown)
as an embedded PNG, a table of the steps (decision, gate, reason, score change, tokens,
cost, time), the candidates waiting for review, the step in flight if a run is training,
each step's diff highlighted, and the final functions with their schemas.

`fnforge watch` (`watch.py`) serves the same page live, with `/state.json`: both are drawn
from one model of a run (`run_model.read_run`), so they never disagree. This part reads the
repository only through fnforge.function_repo, and the trainer's in-flight file through
`fnforge.engine.run_state`.
"""

from __future__ import annotations

from pathlib import Path

from fnforge.function_repo import RepoError
from fnforge.report.collect import collect
from fnforge.report.model import FunctionView, ReportData, StepView
from fnforge.report.page import render_page


class ReportError(ValueError):
    """The report cannot be written; the message says what to do."""


def write_report(repo: Path | str, out: Path | str, *, branch: str | None = None) -> Path:
    """Read the repository at `repo` and write its report to `out`; returns the path written."""
    out = Path(out)
    try:
        data = collect(Path(repo), branch=branch)
    except RepoError as e:
        raise ReportError(str(e)) from None
    if out.is_dir():
        raise ReportError(f"{out} is a directory; pass a file name such as {out / 'report.html'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_page(data), encoding="utf-8")
    except OSError as e:
        raise ReportError(
            f"cannot write {out}: {e.strerror or e}; choose a writable path with --out"
        ) from None
    return out


__all__ = ["FunctionView", "ReportData", "ReportError", "StepView", "collect", "render_page", "write_report"]
