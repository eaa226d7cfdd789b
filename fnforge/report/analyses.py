"""The paper's analyses in the report: test scores, transfer table and function complexity.

Three questions a learning curve alone does not answer: how does the final set do on tasks
that never made a decision (the sealed test split), how does it do on other data, task kinds
and models (transfer), and did it win its points by growing (function count, lines of code,
cyclomatic complexity per step)? Test and transfer scores come from the evaluations kept as
notes by `fnforge eval` (outside the run's history); complexity is measured with radon on
the set at each step. This module reads the repository only through fnforge.function_repo.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from typing import Any

from fnforge.function_repo import FunctionRepo
from fnforge.function_repo.complexity import set_complexity


@dataclass(frozen=True)
class ComplexityPoint:
    """The set's size and complexity after one step (step 0: the starting set)."""

    step: int
    functions: int
    loc: int
    cc_mean: float
    cc_max: int


@dataclass(frozen=True)
class Analyses:
    """What the analyses sections show."""

    complexity: list[ComplexityPoint] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    start_commit: str = ""
    head_commit: str = ""
    steps_by_commit: dict[str, int] = field(default_factory=dict)


def collect_analyses(repo: FunctionRepo, records: list[Any]) -> Analyses:
    """Complexity of the head after each step, and every kept evaluation."""
    start = repo.resolve_step(0)
    points = [_point(0, repo.functions(start))]
    by_commit = {start: 0}
    current = points[0]
    for r in sorted(records, key=lambda r: r.step):
        by_commit[r.commit] = r.step
        if r.accepted:
            current = _point(r.step, repo.functions(r.commit))
        points.append(
            ComplexityPoint(r.step, current.functions, current.loc, current.cc_mean, current.cc_max)
        )
    return Analyses(
        complexity=points,
        evaluations=repo.evaluations(),
        start_commit=start,
        head_commit=repo.head(),
        steps_by_commit=by_commit,
    )


def _point(step: int, functions: dict[str, str]) -> ComplexityPoint:
    c = set_complexity(functions)
    return ComplexityPoint(step, c["functions"], c["loc"], c["cc_mean"], c["cc_max"])


def complexity_png(points: list[ComplexityPoint]) -> bytes:
    """Functions and lines of code (left axis) and mean/max cyclomatic complexity (right) per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from fnforge.report.chart import png_of

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    try:
        xs = [p.step for p in points]
        left.step(
            xs, [p.loc for p in points], where="post", marker=".", color="#0969da", label="lines of code"
        )
        left.set_ylabel("lines of code")
        twin = left.twinx()
        twin.step(
            xs, [p.functions for p in points], where="post", marker=".", color="#8250df", label="functions"
        )
        twin.yaxis.set_major_locator(MaxNLocator(integer=True))
        twin.set_ylabel("functions")
        left.set_xlabel("step")
        left.set_title("Size of the set")
        right.step(
            xs,
            [p.cc_mean for p in points],
            where="post",
            marker=".",
            color="#1a7f37",
            label="mean per function",
        )
        right.step(xs, [p.cc_max for p in points], where="post", marker=".", color="#cf222e", label="max")
        right.set_xlabel("step")
        right.set_ylabel("cyclomatic complexity")
        right.set_title("Cyclomatic complexity (radon)")
        for ax in (left, right):
            ax.grid(True, alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        lines = left.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        left.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
        right.legend(fontsize=8, loc="upper left")
        return png_of(fig)
    finally:
        plt.close(fig)


def _interval(e: dict[str, Any]) -> str:
    iv = e.get("interval")
    return f"[{iv[0]:.3f}, {iv[1]:.3f}]" if isinstance(iv, list | tuple) and len(iv) == 2 else "–"


def _set_label(a: Analyses, commit: str) -> str:
    step = a.steps_by_commit.get(commit)
    name = f"step {step}" if step is not None else "commit"
    if commit == a.head_commit:
        name += " (head)"
    return f"{name} <code>{html.escape(commit[:10])}</code>"


def test_scores_html(a: Analyses) -> str:
    """The sealed test split's score of the starting set and of the final head, with intervals."""
    tests = [e for e in a.evaluations if e.get("kind") == "test"]
    cells = []
    for label, commit, ref in (
        ("starting set (step 0)", a.start_commit, "0"),
        ("final head", a.head_commit, ""),
    ):
        last = [e for e in tests if e.get("commit") == commit]
        if last:
            e = last[-1]
            value = (
                f'<span class="test-score">{float(e["accuracy"]):.3f}</span> 95% interval {_interval(e)} '
                f"({e.get('correct', '?')}/{e.get('n', '?')})"
            )
        else:
            cmd = f"fnforge eval --split test{' --ref ' + ref if ref else ''}"
            value = f"not scored yet: <code>{html.escape(cmd)}</code>"
        cells.append(
            f"<tr><td>{label}</td><td><code>{html.escape(commit[:10])}</code></td><td>{value}</td></tr>"
        )
    return (
        '<table id="test-scores"><thead><tr><th>set</th><th>commit</th><th>test score</th></tr></thead>'
        f"<tbody>{''.join(cells)}</tbody></table>"
        '<p class="meta">The test split never made a decision and was never shown to the optimizer.</p>'
    )


def transfer_html(a: Analyses) -> str:
    """Every kept evaluation on other data, tasks or models: set x data x model -> score."""
    rows = [e for e in a.evaluations if e.get("kind") == "transfer"]
    if not rows:
        return (
            '<p id="transfer-none">No transfer evaluation yet: '
            "<code>fnforge eval --ref N --data FILE [--task T] [--model M] [--agent MODE]</code>.</p>"
        )
    body = "".join(
        f"<tr><td>{_set_label(a, e['commit'])}</td><td>{html.escape(str(e.get('data', '')))}</td>"
        f"<td>{html.escape(str(e.get('task', '')))}</td>"
        f"<td>{html.escape(str(e.get('model') or '–'))}</td><td>{html.escape(str(e.get('agent', '')))}</td>"
        f'<td class="num">{float(e.get("accuracy", 0)):.3f}</td><td class="num">{_interval(e)}</td>'
        f'<td class="num">{e.get("n", "–")}</td><td>{html.escape(str(e.get("at", "")))}</td></tr>'
        for e in rows
    )
    return (
        '<table id="transfer"><thead><tr><th>set</th><th>data</th><th>task</th><th>model</th><th>agent</th>'
        f"<th>score</th><th>95% interval</th><th>n</th><th>when</th></tr></thead><tbody>{body}</tbody></table>"
    )


def analyses_html(a: Analyses | None, chart_src: str | None = None) -> str:
    """The analyses sections of the page (empty when there is nothing to analyse).

    The complexity chart is embedded as a PNG, or, given `chart_src` (the live page), linked."""
    if a is None:
        return ""
    src = chart_src
    if src is None and a.complexity:
        src = "data:image/png;base64," + base64.b64encode(complexity_png(a.complexity)).decode("ascii")
    chart = (
        f'<img id="complexity-chart" class="chart" alt="functions, lines of code and cyclomatic complexity '
        f'per step" src="{src}">'
        if src and a.complexity
        else ""
    )
    last = a.complexity[-1] if a.complexity else None
    facts = (
        f'<p class="summary" id="complexity-facts"><span>{last.functions} functions</span>'
        f"<span>{last.loc} lines of code</span><span>mean cyclomatic complexity {last.cc_mean:.2f}</span>"
        f"<span>max {last.cc_max}</span></p>"
        if last
        else ""
    )
    return (
        f'<h2 id="complexity-title">Function complexity</h2>{facts}{chart}'
        f'<h2 id="test-title">Test score</h2>{test_scores_html(a)}'
        f'<h2 id="transfer-title">Transfer</h2>{transfer_html(a)}'
    )
