"""`fnforge init / apply / log / show / diff / rollback / export`: porcelain over function_repo.

Each command parses, calls one library function and prints. A mistake a user can make
(missing repo, a file that is not JSON, an unknown step, a dirty tree) is one line on
stderr and exit code 2; `apply` exits 0 when the step was accepted and 1 when rejected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from fnforge.cli.app import app
from fnforge.cli.output import MODE, UsageError, console, progress, result
from fnforge.config import ConfigError
from fnforge.function_repo import ActionError, FunctionRepo, RepoError, StepRecord, StepResult, load_actions
from fnforge.function_repo.export import EXPORTS, ExportRequest

_REPO_OPTION = typer.Option(
    Path("."), "--repo", "-r", help="The function repository (made by `fnforge init`)."
)


def _die(message: str, code: int = 2) -> None:
    """One plain line on stderr (never wrapped, never a traceback), then exit."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (RepoError, ActionError, ConfigError) as e:
        _die(str(e))


def _open(path: Path) -> FunctionRepo:
    return FunctionRepo.open(path)


def _score(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _verdict_lines(verdicts: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in verdicts:
        mark = "[green]pass[/green]" if v.get("passed") else "[red]FAIL[/red]"
        took = f" ({v.get('duration_s', 0):.2f}s)" if v.get("duration_s") else ""
        lines.append(f"  {mark} {escape(str(v.get('gate')))}: {escape(str(v.get('reason', '')))}{took}")
    return lines


def _step_text(res: StepResult) -> str:
    head = (
        f"[green]step {res.step} accepted[/green]: {escape(res.reason)}"
        if res.accepted
        else f"[red]step {res.step} rejected[/red] at gate {escape(str(res.gate))}: {escape(res.reason)}"
    )
    lines = [head, f"  actions: {escape(', '.join(res.actions)) or '-'}"]
    lines += _verdict_lines([v.model_dump() for v in res.verdicts])
    if res.score_before is not None or res.score_after is not None:
        lines.append(f"  score: {_score(res.score_before)} -> {_score(res.score_after)}")
    lines += [f"  [yellow]note[/yellow]: {escape(n)}" for n in res.notices]
    lines.append(f"  commit {res.commit[:10]}")
    return "\n".join(lines)


def _record_dict(rec: StepRecord) -> dict[str, Any]:
    return dataclasses.asdict(rec)


@app.command("init")
def init_command(
    path: Path = typer.Argument(..., help="Directory for the new function repository."),
    task: str = typer.Option("gsm8k", "--task", help="gsm8k | tabmwp | math | custom:module:function"),
    config: Path = typer.Option(None, "--config", help="Use this fnforge.toml instead of the template."),
) -> None:
    """Create a function repository: a git repo with fnforge.toml, functions/, tests/ and data/."""
    with _user_errors():
        text = None
        if config is not None:
            try:
                text = config.read_text(encoding="utf-8")
            except OSError as e:
                raise RepoError(
                    f"{config}: cannot read ({e.strerror}); pass an existing fnforge.toml"
                ) from None
        repo = FunctionRepo.init(path, task=task, config_text=text)
    result(
        {"repo": str(repo.root), "task": repo.settings.task.name, "branch": repo.branch},
        f"Created function repository {escape(str(repo.root))} (task {repo.settings.task.name}, "
        f"branch {repo.branch}).\nNext: put tasks in data/, then `fnforge apply edits.json --repo {escape(str(path))}` "
        f"or `fnforge train --repo {escape(str(path))}`.",
    )


@app.command("apply")
def apply_command(
    edits: Path = typer.Argument(..., help="JSON file with a list of actions (add/revise/remove_function)."),
    repo: Path = _REPO_OPTION,
    run: str = typer.Option("manual", "--run", help="Run name recorded in the trailers and branch names."),
    no_validate: bool = typer.Option(
        False, "--no-validate", help="Judge by the gates before validation only."
    ),
) -> None:
    """Apply hand-written actions as one step, through the gates; exit 0 accepted, 1 rejected."""
    from fnforge.cli.gates import default_gates

    with _user_errors():
        fr = _open(repo)
        actions = load_actions(edits)
        with fr.lock(), ExitStack() as stack:
            for line in fr.recover():
                progress(f"recovered: {escape(line)}", recovered=line)
            fr.ensure_clean()
            try:
                gates = default_gates(fr.root, stack, validate=not no_validate)
            except UsageError as e:
                raise RepoError(str(e)) from None
            except Exception as e:  # a gate that cannot start (no Docker, no image): one line, exit 2
                raise RepoError(f"cannot set up the gates: {type(e).__name__}: {e}") from None
            res = fr.run_step(actions, gates, run=run)
    result(res.as_dict(), _step_text(res))
    raise typer.Exit(0 if res.accepted else 1)


@app.command("log")
def log_command(
    repo: Path = _REPO_OPTION,
    all_steps: bool = typer.Option(False, "--all", "-a", help="Include rejected steps."),
) -> None:
    """The steps: number, decision, gate and reason, score before -> after, actions."""
    with _user_errors():
        records = _open(repo).steps(include_rejected=all_steps)
    if MODE.json_lines:
        for rec in records:
            result(_record_dict(rec))
        return
    if not records:
        result([], "No steps yet." + ("" if all_steps else " (`--all` also lists rejected steps)"))
        return
    table = Table(show_edge=False, pad_edge=False)
    for col in ("step", "run", "decision", "gate / reason", "score", "actions"):
        table.add_column(col, overflow="fold")
    for rec in records:
        decision = "[green]accepted[/green]" if rec.accepted else "[red]rejected[/red]"
        if rec.kind == "rollback":
            decision = "[yellow]rollback[/yellow]"
        why = rec.reason if rec.accepted else f"{rec.gate}: {rec.reason}"
        score = f"{_score(rec.score_before)} -> {_score(rec.score_after)}"
        if rec.score_before is None and rec.score_after is None:
            score = "n/a"
        table.add_row(
            str(rec.step), escape(rec.run), decision, escape(why), score, escape(", ".join(rec.actions))
        )
    console.print(table)


@app.command("show")
def show_command(
    step: int = typer.Argument(..., help="Step number (see `fnforge log --all`)."),
    repo: Path = _REPO_OPTION,
) -> None:
    """One step: its actions, every gate's verdict, the note's extras, and its diff."""
    with _user_errors():
        fr = _open(repo)
        rec = fr.step(step)
        diff = fr.step_diff(step)
    if MODE.json_lines:
        result({**_record_dict(rec), "diff": diff})
        return
    verdict = f"accepted: {rec.reason}" if rec.accepted else f"rejected at {rec.gate}: {rec.reason}"
    lines = [
        f"[bold]step {rec.step}[/bold] ({rec.kind}, run {escape(rec.run)}) commit {rec.commit[:10]}",
        f"  decision: {escape(verdict)}",
        f"  score: {_score(rec.score_before)} -> {_score(rec.score_after)}",
        f"  actions: {escape(', '.join(rec.actions)) or '-'}",
        *_verdict_lines(rec.note.get("verdicts", [])),
        *[f"  [yellow]note[/yellow]: {escape(n)}" for n in rec.note.get("notices", [])],
    ]
    core = {"step", "run", "kind", "base", "candidate", "actions", "verdicts", "decision", "gate", "reason"}
    core |= {"score_before", "score_after", "notices", "rolls_back"}
    for key in sorted(k for k in rec.note if k not in core):
        lines.append(f"  {escape(key)}: {escape(str(rec.note[key]))[:200]}")
    console.print("\n".join(lines))
    typer.echo(diff)


@app.command("diff")
def diff_command(
    a: str = typer.Argument(..., help="Step number (0 = the first commit), branch or commit."),
    b: str = typer.Argument(..., help="Step number, branch or commit."),
    repo: Path = _REPO_OPTION,
) -> None:
    """The function set's diff (functions/ and tests/) between two steps."""
    with _user_errors():
        text = _open(repo).diff(a, b)
    if MODE.json_lines:
        result({"a": a, "b": b, "diff": text})
    else:
        typer.echo(text)


@app.command("rollback")
def rollback_command(
    step: int = typer.Argument(..., help="The accepted step to undo."),
    repo: Path = _REPO_OPTION,
    run: str = typer.Option("manual", "--run", help="Run name recorded in the trailers."),
) -> None:
    """Undo an accepted step (`git revert -m 1` of its merge), recorded as a new step."""
    with _user_errors():
        res = _open(repo).rollback(step, run=run)
    for line in res.recovered:
        progress(f"recovered: {escape(line)}", recovered=line)
    result(
        res.as_dict(),
        f"[green]step {res.step}[/green]: rolled back step {step} "
        f"({escape(', '.join(res.actions)) or 'no function changes'}); commit {res.commit[:10]}",
    )


@app.command("export")
def export_command(
    repo: Path = _REPO_OPTION,
    format: str = typer.Option("wheel", "--format", "-f", help=" | ".join(EXPORTS)),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Directory for the wheel or the patch files, or the tools JSON / MCP config file.",
    ),
    name: str = typer.Option(
        None, "--name", help="Import name of the package (default: the repo's directory)."
    ),
    ref: str = typer.Option(None, "--ref", help="Step number, branch or commit (default: the branch head)."),
    step: int = typer.Option(
        None, "--step", help="With --format patch: the step whose candidate to write (`git am` applies it)."
    ),
) -> None:
    """Export the function set: an installable wheel, the OpenAI tool schemas as JSON, a step's
    candidate as `git format-patch` files, or the `mcpServers` entry an MCP client needs to start
    `fnforge serve` over stdio (printed)."""
    if format not in EXPORTS:
        *rest, last = EXPORTS
        _die(f"--format {format!r} is not known; use {', '.join(rest)} or {last}")
    with _user_errors():
        done = EXPORTS[format](_open(repo), ExportRequest(out=out, ref=ref, name=name, step=step))
    if done.printed is not None:
        typer.echo(done.printed)
        return
    human = "\n".join(f"wrote {escape(str(p))}" for p in done.paths)
    result({"format": format, **done.details}, human + (f"\n{escape(done.hint)}" if done.hint else ""))
