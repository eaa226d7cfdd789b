"""How a step reads on the terminal: its score, its gates' verdicts, its outcome, its diff.

`fnforge apply`, `log`, `show`, `review` and `approve` show steps and waiting candidates the
same way; the text is rich markup with every value escaped.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from fnforge.function_repo import StepResult


def score_text(x: float | None) -> str:
    """A validation score with three decimals, `n/a` when there is none."""
    return "n/a" if x is None else f"{x:.3f}"


def verdict_lines(verdicts: list[dict[str, Any]]) -> list[str]:
    """One indented line per gate verdict: pass or FAIL, the gate, its reason, how long it took."""
    lines = []
    for v in verdicts:
        mark = "[green]pass[/green]" if v.get("passed") else "[red]FAIL[/red]"
        took = f" ({v.get('duration_s', 0):.2f}s)" if v.get("duration_s") else ""
        lines.append(f"  {mark} {escape(str(v.get('gate')))}: {escape(str(v.get('reason', '')))}{took}")
    return lines


def step_text(res: StepResult) -> str:
    """A decided step: accepted or rejected (and where), its actions, verdicts, score and commit."""
    head = (
        f"[green]step {res.step} accepted[/green]: {escape(res.reason)}"
        if res.accepted
        else f"[red]step {res.step} rejected[/red] at gate {escape(str(res.gate))}: {escape(res.reason)}"
    )
    lines = [head, f"  actions: {escape(', '.join(res.actions)) or '-'}"]
    lines += verdict_lines([v.model_dump() for v in res.verdicts])
    if res.score_before is not None or res.score_after is not None:
        lines.append(f"  score: {score_text(res.score_before)} -> {score_text(res.score_after)}")
    lines += [f"  [yellow]note[/yellow]: {escape(n)}" for n in res.notices]
    lines.append(f"  commit {res.commit[:10]}")
    return "\n".join(lines)
