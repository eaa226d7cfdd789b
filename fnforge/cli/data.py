"""`fnforge data check`: each data file of a repository, as a run would read it.

Porcelain over `fnforge.engine.data_sources.split_reports`: per split, its files' rows and
formats, bad rows with their lines, and whether a run would refuse to start on them. The
index each file needs is built and cached on the way, so the next `train` starts without a pass.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from fnforge.cli.app import app
from fnforge.cli.output import MODE, console, result
from fnforge.config import CONFIG_NAME, ConfigError, load_settings

data_app = typer.Typer(
    name="data",
    help="The task files of a repository: check each split's rows, formats and bad rows.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@data_app.command("check")
def check(
    repo: Path = typer.Option(
        Path("."), "--repo", "-r", help="The function repository (made by `fnforge init`)."
    ),
    shown: int = typer.Option(10, "--show", help="How many bad rows to list per file."),
) -> None:
    """Report each split (rows, format, bad rows by line); exit 1 when a run would refuse to start."""
    from fnforge.engine.data_sources import split_reports

    if not (repo / CONFIG_NAME).is_file():
        typer.echo(f"error: {repo}: no {CONFIG_NAME} there; pass a function repository with --repo", err=True)
        raise typer.Exit(2)
    try:
        settings = load_settings(repo)
    except ConfigError as e:
        typer.echo(f"error: {' '.join(str(e).split())}", err=True)
        raise typer.Exit(2) from None
    reports = split_reports(repo, settings)
    failed = any(r.error or r.refused for r in reports)
    if MODE.json_lines or MODE.quiet:
        result(
            {
                "ok": not failed,
                "max_bad_share": settings.data.max_bad_share,
                "splits": [r.to_dict() for r in reports],
            },
            None if MODE.json_lines else ("refused" if failed else "ok"),
        )
        raise typer.Exit(1 if failed else 0)
    for r in reports:
        if r.error:
            console.print(f"[red]{escape(r.split)}[/red]: {escape(r.error)}")
            continue
        for f in r.files:
            index = "index built" if f.built else "index cached"
            console.print(
                f"[bold]{escape(r.split)}[/bold] {escape(f.path)}: {f.rows} tasks, {f.format}, "
                f"{f.bad_count} bad rows ({index})"
            )
            for line in f.bad[:shown]:
                console.print(f"  {escape(line)}")
            if f.bad_count > shown:
                console.print(f"  ... and {f.bad_count - min(shown, len(f.bad))} more")
        if r.refused:
            console.print(f"[red]a run would refuse to start:[/red] {escape(r.refused)}")
    console.print(
        "[red]" + escape("fix the rows above, or raise [data] max_bad_share") + "[/red]"
        if failed
        else f"[green]every split can be read[/green] (bad rows allowed: {settings.data.max_bad_share:.2%} of a file)"
    )
    raise typer.Exit(1 if failed else 0)
