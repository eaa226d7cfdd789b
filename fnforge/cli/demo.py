"""Commands for a new user's first ten minutes: `demo`, `report` and `doctor`.

Thin porcelain: `demo` and `report` call one library function each (fnforge.demo,
fnforge.report) and print; `doctor` prints the machine checks of fnforge.doctor.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from fnforge.cli.app import app
from fnforge.cli.output import MODE, console, fail, progress, result
from fnforge.config import CONFIG_NAME
from fnforge.doctor import run_checks


@app.command()
def doctor(
    repo: Path | None = typer.Option(
        None, "--repo", help="A function repository; its fnforge.toml selects what to check."
    ),
) -> None:
    """Check this machine: Docker engine, sandbox image, git identity, the model endpoint.

    Each failure says what to do. Exits 1 when something required fails, 0 otherwise (warnings do not fail).

    With --repo, the repository's fnforge.toml decides what is required (e.g. backend "process" needs no Docker) and the model endpoint is tried with the key from the environment.
    """
    if repo is not None and not (repo / CONFIG_NAME).is_file():
        fail(
            f"{repo}: no {CONFIG_NAME} there; pass a function repository (`fnforge init DIR`) or omit --repo"
        )
    checks = run_checks(repo)
    failed = [c for c in checks if c.status == "fail"]
    if MODE.json_lines or MODE.quiet:
        result(
            {"ok": not failed, "checks": [asdict(c) for c in checks]},
            None
            if MODE.json_lines
            else "\n".join(
                escape(f"{c.status}: {c.name}: {c.detail}" + (f" -> {c.fix}" if c.fix else ""))
                for c in checks
                if c.status != "ok"
            )
            or "all checks passed",
        )
    else:
        table = Table(title="fnforge doctor", show_lines=False)
        for column in ("check", "status", "detail", "what to do"):
            table.add_column(column, overflow="fold")
        style = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}
        for c in checks:
            table.add_row(escape(c.name), style[c.status], escape(c.detail), escape(c.fix))
        console.print(table)
        console.print("[red]something required failed[/red]" if failed else "[green]ready[/green]")
    raise typer.Exit(1 if failed else 0)


@app.command()
def report(
    repo: Path = typer.Option(Path("."), "--repo", help="The function repository to report on."),
    out: Path = typer.Option(Path("report.html"), "--out", help="Where to write the HTML file."),
    branch: str | None = typer.Option(
        None, "--branch", help="The set's branch (default: from fnforge.toml)."
    ),
) -> None:
    """Write one self-contained HTML report of a run: learning curve, steps, diffs, final functions.

    The file embeds its chart and styles, so it opens offline and can be attached anywhere.
    """
    from fnforge.report import ReportError, write_report

    try:
        path = write_report(repo, out, branch=branch)
    except ReportError as e:
        fail(str(e))
    result({"report": str(path)}, escape(f"report written to {path}"))


def _curve_table(curve: list[tuple[int, str, float | None]]) -> Table:
    table = Table(title="validation score of the set after each step", show_lines=False)
    table.add_column("step", justify="right")
    table.add_column("verdict")
    table.add_column("score", justify="right")
    for step, decision, score in curve:
        shown = "[green]accepted[/green]" if decision == "accepted" else f"[red]{decision}[/red]"
        table.add_row(str(step), shown, "n/a" if score is None else f"{score:.2f}")
    return table


@app.command()
def demo(
    out: Path = typer.Option(
        Path("demo-run"), "--out", help="Where to create the demo's function repository."
    ),
    examples: Path = typer.Option(
        None, "--examples", help="The folder with the demo's files (default: this checkout's examples/)."
    ),
    build: bool = typer.Option(
        True,
        "--build/--no-build",
        help="Build the sandbox image first when Docker answers and it is missing.",
    ),
) -> None:
    """A tour: train a function set on 100 TabMWP problems with no API key, then show the history.

    Creates a function repository in --out from examples/ (an earlier demo there is replaced) and trains it in `direct` mode, replaying a reviewed list of edits in place of the optimizer LLM; some of them the gates must reject.

    Ends with the accepted history, the score curve, the report's path and how to export the functions. The store, sandbox, gates and evaluator are all real.
    """
    from fnforge.cli.train import TrainingProgress, training_errors
    from fnforge.demo import EXAMPLES, SCRIPTED_NOTICE, DemoError, run_demo, sparkline

    progress(SCRIPTED_NOTICE if MODE.json_lines else f"[bold]{SCRIPTED_NOTICE}[/bold]", event="notice")
    training_progress = TrainingProgress()  # the same lines and live status as `fnforge train`

    def on_progress(event: str, **kw: object) -> None:
        if event == "demo":
            message = str(kw["message"])
            progress(message if MODE.json_lines else escape(message), event=event)
        else:
            training_progress(event, **kw)

    try:
        done = run_demo(out, examples=examples or EXAMPLES, progress=on_progress, build=build)
    except (DemoError, *training_errors()) as e:
        fail(str(e))
        return
    finally:
        training_progress.close()
    scores = [score for _, _, score in done.curve]
    known = [s for s in scores if s is not None]
    final = f"{known[-1]:.2f}" if known else "n/a"
    summary = {
        "repo": str(done.root),
        "report": str(done.report),
        "stopped": done.training.stopped,
        "curve": [{"step": s, "decision": d, "score": v} for s, d, v in done.curve],
        "history": done.history.splitlines(),
    }
    if MODE.json_lines:
        result(summary)
        return
    if not MODE.quiet:
        console.rule("accepted history (git log --graph --oneline of the set's branch)")
        console.print(done.history, markup=False, highlight=False, soft_wrap=True)
        console.rule("score curve")
        console.print(_curve_table(done.curve))
        console.print(f"validation score per step: {sparkline(scores)}  (final {final})")
        console.print(f"[dim]{SCRIPTED_NOTICE}[/dim]")
    for line in (
        f"report: {done.report}",
        f"export: fnforge export --repo {done.root} --format wheel --out dist/    (an installable package)",
        f"        fnforge export --repo {done.root} --format tools-json --out tools.json    (OpenAI tool schemas)",
        f"audit:  git -C {done.root} log --graph --oneline --all",
    ):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
