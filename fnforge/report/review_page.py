"""One self-contained HTML page of the candidates awaiting review, for reviewers who read pages.

`fnforge review --html OUT` writes it: per waiting candidate its actions, every gate's
verdict, the score change with the validation tasks it fixed and broke, the highlighted
diff, and the commands that approve, reject or export it. Like the report, it inlines its
styles and fetches nothing, and it reads the repository only through fnforge.function_repo.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

from fnforge.function_repo import FunctionRepo
from fnforge.function_repo.review import WaitingCandidate, candidate_diff, waiting

_FORMATTER = HtmlFormatter(cssclass="hl", style="default")
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1f2328; }
.candidate { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5em 1em; margin: 1.5em 0; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .score { font-variant-numeric: tabular-nums; }
code, pre { font: 13px ui-monospace, monospace; } pre { overflow-x: auto; }
.commands { background: #f6f8fa; padding: 0.5em 1em; border-radius: 6px; }
"""


def _candidate_block(w: WaitingCandidate, diff: str, root: Path) -> str:
    verdicts = "".join(
        f'<li class="{"pass" if v.get("passed") else "fail"}"><b>{html.escape(str(v.get("gate")))}</b>: '
        f"{html.escape(str(v.get('reason', '')))}</li>"
        for v in w.verdicts
    )
    score = "–"
    if w.score_before is not None and w.score_after is not None:
        flipped = w.flipped
        score = (
            f"{w.score_before:.3f} → {w.score_after:.3f} "
            f"({len(flipped['fixed'])} fixed, {len(flipped['broken'])} broken)"
        )
    body = highlight(diff, DiffLexer(), _FORMATTER) if diff.strip() else "<p>(no change to the functions)</p>"
    repo = html.escape(str(root))
    return (
        f'<section class="candidate" id="step-{w.step}" data-step="{w.step}">'
        f"<h2>Step {w.step} <small>(run {html.escape(w.run)}, branch <code>{html.escape(w.branch)}</code>)</small></h2>"
        f'<p class="actions">{html.escape(", ".join(w.actions))}</p>'
        f'<p class="score">validation {html.escape(score)}</p><ul class="verdicts">{verdicts}</ul>'
        f'<details open class="diff"><summary>diff against <code>{html.escape(w.base[:10])}</code></summary>{body}</details>'
        f'<pre class="commands">fnforge approve {w.step} --repo {repo} --message "..."\n'
        f'fnforge reject {w.step} --repo {repo} --reason "..."\n'
        f"fnforge export --repo {repo} --format patch --step {w.step}</pre></section>"
    )


def render_review_page(repo: FunctionRepo) -> str:
    """The page as one HTML string."""
    found = waiting(repo)
    blocks = [_candidate_block(w, candidate_diff(repo, w), repo.root) for w in found]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"fnforge review: {html.escape(Path(repo.root).name)}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}{_FORMATTER.get_style_defs('.hl')}</style></head><body>"
        f'<h1>{title}</h1><p class="summary">{len(found)} candidate{"s" if len(found) != 1 else ""} '
        f"awaiting review on branch <code>{html.escape(repo.branch)}</code> · written {when}</p>"
        + ("".join(blocks) or "<p>No candidates await review.</p>")
        + "</body></html>\n"
    )


def write_review_page(repo: FunctionRepo, out: Path | str) -> Path:
    """Write the page of waiting candidates to `out`; the path written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_review_page(repo), encoding="utf-8")
    return out
