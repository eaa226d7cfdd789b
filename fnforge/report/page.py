"""One self-contained HTML page from a report's data: chart, step table, diffs, functions.

Self-contained means a single file with the chart as a base64 PNG and the styles inline:
it can be mailed, attached to an issue, or opened offline, and a browser fetches nothing.
The layout is a template file beside this module so it can be read and diffed as HTML.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from string import Template

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, JsonLexer, PythonLexer

from fnforge.report.chart import learning_curve_png
from fnforge.report.model import FunctionView, ReportData, StepView

TEMPLATE = Path(__file__).with_name("report.html")
IN_FLIGHT_JS = Path(__file__).with_name("in_flight.js")  # draws the step in flight (report and watch)
LIVE_JS = Path(__file__).with_name("live.js")  # watch only: polls /state.json, swaps in new steps
_FORMATTER = HtmlFormatter(cssclass="hl", style="default")
MAX_DIFF_CHARS = 200_000  # per step: a page of many huge diffs would not open


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _change(step: StepView) -> str:
    delta = step.score_change
    if delta is None:
        return "–"
    css = "up" if delta > 0 else "down" if delta < 0 else ""
    return f'<span class="{css}">{delta:+.3f}</span>'


def _decision(step: StepView) -> str:
    if step.kind == "rollback":
        target = f" of step {step.rolls_back}" if step.rolls_back is not None else ""
        return f"rollback{target}"
    return step.decision


def step_row(step: StepView) -> str:
    """One row of the steps table."""
    css = "rollback" if step.kind == "rollback" else step.decision
    actions = "<br>".join(html.escape(a) for a in step.actions) or "–"
    reviewed = ""
    if step.reviewed_by:
        reviewed = f'<br><span class="reviewed">reviewed by {html.escape(step.reviewed_by)}</span>'
    cells = [
        f'<td class="num"><a href="#step-{step.step}">{step.step}</a></td>',
        f'<td class="decision">{html.escape(_decision(step))}{reviewed}</td>',
        f"<td>{html.escape(step.gate or '–')}</td>",
        f'<td class="reason">{html.escape(step.reason or "–")}</td>',
        f'<td class="num">{_score(step.score_before)} → {_score(step.score_after)}</td>',
        f'<td class="num">{_change(step)}</td>',
        f"<td>{actions}</td>",
        f'<td class="num">{"–" if step.tokens is None else f"{step.tokens:,}"}</td>',
        f'<td class="num">{"–" if step.cost_usd is None else f"${step.cost_usd:.4f}"}</td>',
        f'<td class="num">{"–" if step.duration_s is None else f"{step.duration_s:.1f} s"}</td>',
        f"<td><code>{html.escape(step.commit[:10])}</code></td>",
    ]
    by = f' data-reviewed-by="{html.escape(step.reviewed_by)}"' if step.reviewed_by else ""
    return f'<tr class="{css}" data-step="{step.step}"{by}>' + "".join(cells) + "</tr>"


def step_diff(step: StepView) -> str:
    """A step's diff, highlighted, in a collapsible block."""
    title = f"Step {step.step}: {_decision(step)}" + (f" at {step.gate}" if step.gate else "")
    diff = step.diff
    cut = ""
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS].rsplit("\n", 1)[0] + "\n"
        cut = f"<p>(diff cut at {MAX_DIFF_CHARS:,} characters; the whole of it: <code>git show {html.escape(step.commit[:10])}</code>)</p>"
    body = (
        highlight(diff, DiffLexer(), _FORMATTER) + cut
        if diff.strip()
        else "<p>(no change to the functions)</p>"
    )
    return (
        f'<details id="step-{step.step}" class="diff"><summary>{html.escape(title)} '
        f"<code>{html.escape(step.commit[:10])}</code></summary>"
        f'<p class="verdict">{html.escape(step.reason or "")}</p>{body}</details>'
    )


def function_block(fn: FunctionView) -> str:
    """A final function: its description, its derived tool schema and its source."""
    description = fn.schema.get("function", fn.schema).get("description", "") if fn.schema else ""
    schema = highlight(json.dumps(fn.schema, indent=2), JsonLexer(), _FORMATTER)
    source = highlight(fn.source, PythonLexer(), _FORMATTER)
    return (
        f'<div class="fn" id="fn-{html.escape(fn.name)}"><h3><code>{html.escape(fn.name)}</code></h3>'
        f"<p>{html.escape(description)}</p>"
        f"<details><summary>tool schema</summary>{schema}</details>"
        f"<details open><summary>source</summary>{source}</details></div>"
    )


def summary_line(data: ReportData) -> str:
    """Counts and the best score, in one line above the chart."""
    accepted = sum(1 for s in data.steps if s.accepted and s.kind == "step")
    rejected = sum(1 for s in data.steps if not s.accepted)
    rollbacks = sum(1 for s in data.steps if s.kind == "rollback")
    scores = [s.score_after for s in data.steps if s.accepted and s.score_after is not None]
    parts = [
        f"<span>{len(data.steps)} steps</span>",
        f"<span>{accepted} accepted</span>",
        f"<span>{rejected} rejected</span>",
        f"<span>{rollbacks} rollbacks</span>",
        f"<span>{len(data.functions)} functions</span>",
    ]
    if data.waiting:
        parts.append(f'<span class="waiting">{len(data.waiting)} waiting for review</span>')
    if scores:
        parts.append(f"<span>final validation score {scores[-1]:.3f}</span>")
    return "".join(parts)


def waiting_section(data: ReportData) -> str:
    """The candidates waiting for a person (`review = "human"`), with the commands that decide them."""
    if not data.waiting:
        return ""
    rows = []
    for w in data.waiting:
        rows.append(
            f'<tr data-step="{w.step}"><td class="num">{w.step}</td><td>{html.escape(w.run)}</td>'
            f'<td class="num">{_score(w.score_before)} → {_score(w.score_after)}</td>'
            f"<td>{'<br>'.join(html.escape(a) for a in w.actions) or '–'}</td>"
            f'<td class="reason">{html.escape(w.reason or "–")}</td>'
            f"<td><code>fnforge approve {w.step}</code> / <code>fnforge reject {w.step}</code></td></tr>"
        )
    return (
        '<h2 id="waiting-title">Waiting for review</h2>\n<table id="waiting"><thead><tr><th>step</th>'
        "<th>run</th><th>score before → after</th><th>actions</th><th>why it passed</th><th>decide with</th>"
        "</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


def _script_json(value: object) -> str:
    """JSON to embed in a <script> element (no `</` can end it early)."""
    return json.dumps(value).replace("</", "<\\/")


def render_page(data: ReportData, *, live: bool = False) -> str:
    """The whole report as one HTML string; `live` adds the script `fnforge watch` pages poll with."""
    steps = sorted(data.steps, key=lambda s: s.step)
    if live:  # the charts come as images of their own, so new steps show before the charts are drawn
        chart_src = f"learning-curve.png?v={data.version}"
    else:
        chart_src = "data:image/png;base64," + base64.b64encode(learning_curve_png(data.steps)).decode(
            "ascii"
        )
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=html.escape(data.title),
        branch=html.escape(data.branch),
        head=html.escape(data.head[:10]),
        task=html.escape(data.task or "–"),
        generated_at=html.escape(data.generated_at),
        summary=summary_line(data),
        chart_src=html.escape(chart_src),
        step_rows="\n".join(step_row(s) for s in steps) or '<tr><td colspan="11">no steps yet</td></tr>',
        diffs="\n".join(step_diff(s) for s in steps) or "<p>no steps yet</p>",
        functions="\n".join(function_block(f) for f in data.functions) or "<p>the set is empty</p>",
        pygments_css=_FORMATTER.get_style_defs(".hl"),
        analyses=_analyses_html(data, f"complexity.png?v={data.version}" if live else None),
        waiting=waiting_section(data),
        version=html.escape(data.version),
        made_by="served live by <code>fnforge watch</code>"
        if live
        else "written by <code>fnforge report</code>",
        live_status='<span id="live-status">live</span>' if live else "",
        in_flight_json=_script_json(data.in_flight),
        scripts=IN_FLIGHT_JS.read_text(encoding="utf-8")
        + (LIVE_JS.read_text(encoding="utf-8") if live else ""),
    )


def _analyses_html(data: ReportData, chart_src: str | None) -> str:
    from fnforge.report.analyses import analyses_html
    from fnforge.report.spend import spend_html

    return spend_html(data.steps, data.estimates, data.notes_by_run) + analyses_html(data.analyses, chart_src)
