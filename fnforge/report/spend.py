"""What the run cost and what it bought: validation score against cumulative dollars, and the estimate.

The curve a user decides a budget on is not score per step but score per dollar: a step that
stopped after forty validation tasks costs a fraction of one that scored them all. So the
report draws the head's validation score against the cumulative dollars of the steps (tokens
when the notes carry no price), and sets `fnforge train --estimate`'s figures, as the trainer
kept them when the run started, beside what the run spent.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from typing import Any

from fnforge.report.chart import HEAD, head_curve, png_of, with_step_zero
from fnforge.report.model import StepView


def cumulative_spend(steps: list[StepView]) -> tuple[str, dict[int, float]]:
    """("usd" or "tokens", the cumulative spend after each step, step 0 = 0)."""
    ordered = sorted(steps, key=lambda s: s.step)
    unit = "usd" if any(s.cost_usd for s in ordered) else "tokens"
    total, out = 0.0, {0: 0.0}
    for s in ordered:
        total += (s.cost_usd if unit == "usd" else s.tokens) or 0.0
        out[s.step] = total
    return unit, out


def spend_png(steps: list[StepView]) -> bytes:
    """The head's validation score (a step function) against the cumulative spend."""
    import matplotlib.pyplot as plt

    unit, spent = cumulative_spend(steps)
    xs, ys = with_step_zero(steps, *head_curve(steps))
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=100)
    try:
        money = [spent.get(x, 0.0) for x in xs]
        if xs:
            ax.step(money, ys, where="post", color=HEAD, linewidth=2, marker=".", label="set's branch (head)")
        ax.set_xlabel("cumulative dollars" if unit == "usd" else "cumulative tokens")
        ax.set_ylabel("validation score")
        ax.set_title("Validation score against what the run spent")
        ax.grid(True, alpha=0.3)
        return png_of(fig)
    finally:
        plt.close(fig)


def _parts(note: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(phase or gate, usage) of a note: the trainer's phases, and each gate's from its verdict."""
    phases = [(k, v) for k, v in (note.get("usage") or {}).items() if isinstance(v, dict)]
    seen = {k for k, _ in phases}
    for v in note.get("verdicts") or []:
        usage = (v.get("details") or {}).get("usage") if isinstance(v, dict) else None
        if isinstance(usage, dict) and v.get("gate") not in seen:
            phases.append((str(v.get("gate")), usage))
    return phases


ROLE_OF = {
    "train": "train batch",
    "train-recent": "train batch",
    "precheck": "pre-check",
    "unchosen": "pre-check",  # the pre-checks of a step's candidates that were not chosen
    "validation": "validation",
    "optimizer": "optimizer",
}


def _spent_by_role(notes: list[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    out = {r: {"requests": 0.0, "tokens": 0.0, "usd": 0.0} for r in dict.fromkeys(ROLE_OF.values())}
    for note in notes:
        for key, part in _parts(note):
            role = ROLE_OF.get(key)
            if role is None:
                continue
            out[role]["requests"] += float(part.get("http_requests") or 0)
            out[role]["tokens"] += float(part.get("prompt_tokens") or 0) + float(
                part.get("completion_tokens") or 0
            )
            out[role]["usd"] += float(part.get("cost_usd") or 0.0)
    return out


def estimate_table(estimate: Mapping[str, Any], notes: list[Mapping[str, Any]], steps: int) -> str:
    """The estimate per step, times the steps done, beside what the run spent, by role."""
    per = estimate.get("per_step") or {}
    spent = _spent_by_role(notes)
    rows = []
    for role, got in spent.items():
        e = (per.get("expected") or {}).get(role) or {}
        m = (per.get("at_most") or {}).get(role) or {}

        def est(d: Mapping[str, Any], key: str) -> str:
            value = d.get(key)
            if value is None:
                return "–"
            return f"${value * steps:.4f}" if key == "usd" else f"{round(value * steps):,}"

        tokens_e = (e.get("input_tokens") or 0) + (e.get("output_tokens") or 0)
        rows.append(
            f"<tr><td>{html.escape(role)}</td><td>{est(e, 'requests')}</td><td>{est(m, 'requests')}</td>"
            f"<td>{round(got['requests']):,}</td><td>{round(tokens_e * steps):,}</td>"
            f"<td>{round(got['tokens']):,}</td><td>{est(e, 'usd')}</td><td>${got['usd']:.4f}</td></tr>"
        )
    head = (
        "<tr><th>role</th><th>requests expected</th><th>at most</th><th>sent</th><th>tokens expected</th>"
        "<th>used</th><th>dollars expected</th><th>spent</th></tr>"
    )
    return f'<table id="estimate-table">{head}{"".join(rows)}</table>'


def spend_html(steps: list[StepView], estimates: Mapping[str, Any], notes: Mapping[str, list[Any]]) -> str:
    """The page's section: the score-per-dollar chart and, per run with an estimate, the comparison."""
    if not steps:
        return ""
    png = base64.b64encode(spend_png(steps)).decode("ascii")
    parts = [
        '<h2 id="spend-title">Score per dollar</h2>',
        f'<img id="spend-chart" class="chart" alt="validation score against cumulative spend" '
        f'src="data:image/png;base64,{png}">',
    ]
    for run, estimate in sorted(estimates.items()):
        run_notes = list(notes.get(run) or [])
        parts.append(
            f"<h3>Estimate and spend of run {html.escape(run)} ({len(run_notes)} steps)</h3>"
            + estimate_table(estimate, run_notes, len(run_notes))
        )
    return "".join(parts)
