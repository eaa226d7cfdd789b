"""`fnforge review / approve / reject`: the human review gate (`[training] review = "human"`).

`review` shows the candidates waiting on their branches (actions, every gate's verdict,
the score change with fixed and broken tasks, the diff); `approve` merges one as an
automatic acceptance would, with `Fnforge-Reviewed-By`; `reject` records it as rejected at
gate `review` with the reviewer's reason. A step that is not waiting is one line, exit 2.
When the branch moved since a candidate was made, `approve` re-runs the gates against the
new head; it composes them as `fnforge apply` does (cli/gates.py), so the store never
imports the sandbox or the engine.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer
from rich.markup import escape
from rich.syntax import Syntax

from fnforge.cli.app import app
from fnforge.cli.output import MODE, UsageError, console, progress, result, set_mode
from fnforge.cli.repo_access import REPO_OPTION, open_repo, user_errors
from fnforge.cli.step_view import score_text, step_text, verdict_lines
from fnforge.function_repo import RepoError


@app.command("review")
def review_command(
    repo: Path = REPO_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print the candidates as JSON, diffs plain."),
    html_out: Path = typer.Option(None, "--html", help="Also write them as one self-contained HTML page."),
) -> None:
    """The candidates awaiting review: actions, gate verdicts, score change, diff, and what to run."""
    from fnforge.function_repo.review import candidate_diff, waiting

    if json_out:
        set_mode(quiet=MODE.quiet, json_lines=True)
    with user_errors():
        fr = open_repo(repo)
        found = waiting(fr)
        head = fr.head()
        diffs = {w.step: candidate_diff(fr, w) for w in found}
        if html_out is not None:
            from fnforge.report.review_page import write_review_page

            try:
                written = write_review_page(fr, html_out)
            except OSError as e:
                raise RepoError(
                    f"cannot write {html_out}: {e.strerror or e}; choose a writable path"
                ) from None
            progress(f"wrote {escape(str(written))}", html=str(written))
    if MODE.json_lines:
        shown = [{**w.as_dict(), "base_is_head": w.base == head, "diff": diffs[w.step]} for w in found]
        result({"waiting": shown, "count": len(found)})
        return
    if not found:
        result({"waiting": [], "count": 0}, "No candidates await review.")
        return
    for w in found:
        flipped = w.flipped
        lines = [
            f"[bold]step {w.step}[/bold] (run {escape(w.run)}) [yellow]awaiting review[/yellow] "
            f"on branch {escape(w.branch)}",
            f"  actions: {escape(', '.join(w.actions)) or '-'}",
            *verdict_lines(w.verdicts),
            f"  score: {score_text(w.score_before)} -> {score_text(w.score_after)} "
            f"({len(flipped['fixed'])} fixed, {len(flipped['broken'])} broken)",
            *[f"  [yellow]note[/yellow]: {escape(n)}" for n in w.note.get("notices", [])],
        ]
        if w.base != head:
            lines.append(
                f"  [yellow]{escape(fr.branch)} moved since this was proposed[/yellow]: "
                "approving replays it onto the new head and runs the gates again"
            )
        console.print("\n".join(lines))
        console.print(
            Syntax(diffs[w.step] or "(no change to the functions)", "diff", background_color="default")
        )
    n = found[0].step
    console.print(
        f"{len(found)} waiting. Next: `fnforge approve {n} --repo {escape(str(repo))} --message ...`, "
        f'`fnforge reject {n} --repo {escape(str(repo))} --reason "..."`, '
        f"or `fnforge export --repo {escape(str(repo))} --format patch --step {n}` for another review tool"
    )


@app.command("approve")
def approve_command(
    step: int = typer.Argument(..., help="The waiting step to merge (see `fnforge review`)."),
    repo: Path = REPO_OPTION,
    message: str = typer.Option(
        "", "--message", "-m", help="The reviewer's words, kept in the merge commit."
    ),
) -> None:
    """Merge a waiting candidate as an automatic acceptance would, signed Fnforge-Reviewed-By.

    If another step was merged since it was made, its edits are replayed onto the new head and
    the gates run again (exit 1 when they now reject it); if they no longer apply cleanly it is
    refused and keeps waiting. Exit 0 merged, 1 rejected by the re-run gates, 2 refused.
    """
    from fnforge.cli.gates import default_gates
    from fnforge.function_repo.review import approve

    with user_errors():
        fr = open_repo(repo)
        with ExitStack() as stack:

            def regate() -> list:
                try:
                    return default_gates(fr.root, stack)
                except UsageError as e:
                    raise RepoError(str(e)) from None

            res = approve(fr, step, message=message, regate=regate, progress=lambda m: progress(escape(m)))
    trailer = "--format=%(trailers:key=Fnforge-Reviewed-By,valueonly)"
    data = {**res.as_dict(), "reviewed_by": fr.git.run("log", "-1", trailer, res.commit).strip()}
    result(data, step_text(res) + f"\n  reviewed by {escape(data['reviewed_by'])}")
    raise typer.Exit(0 if res.accepted else 1)


@app.command("reject")
def reject_command(
    step: int = typer.Argument(..., help="The waiting step to refuse (see `fnforge review`)."),
    repo: Path = REPO_OPTION,
    reason: str = typer.Option(
        None, "--reason", help="Why: recorded at gate `review` and shown to the optimizer in later steps."
    ),
) -> None:
    """Record a waiting candidate as rejected at gate `review`, with the reviewer's reason."""
    from fnforge.function_repo.review import reject

    with user_errors():
        res = reject(open_repo(repo), step, reason or "")
    result(res.as_dict(), step_text(res))
