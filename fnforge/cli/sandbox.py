"""`fnforge sandbox build / check / run`: porcelain over fnforge.sandbox.

`build` makes the image (offline when no registry answers), `check` proves what the
running engine isolates by probing it from inside, and `run` calls one function from a
file in the sandbox, without the static gate, as the tool for probing the sandbox itself.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from fnforge.cli.app import app
from fnforge.cli.output import MODE, console, fail, progress, result
from fnforge.config import CONFIG_NAME, ConfigError, SandboxSettings, load_settings

sandbox_app = typer.Typer(
    name="sandbox",
    help="The sandbox that runs every function: build its image, check its isolation, run one call.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")

_REPO = typer.Option(
    Path("."), "--repo", "-r", help="Read the sandbox settings from this repository's fnforge.toml, if any."
)
_BACKEND = typer.Option(
    None, "--backend", help="auto | docker | process (default: from fnforge.toml, else auto)."
)


def _settings(repo: Path, backend: str | None = None) -> SandboxSettings:
    settings = SandboxSettings()
    if (repo / CONFIG_NAME).is_file():
        try:
            settings = load_settings(repo).sandbox
        except ConfigError as e:
            fail(str(e))
    if backend is not None:
        if backend not in ("auto", "docker", "process"):
            fail(f"--backend {backend!r} is not a backend; use auto, docker or process")
        settings = settings.model_copy(update={"backend": backend})
    return settings


@sandbox_app.command("build")
def build(
    repo: Path = _REPO,
    force: bool = typer.Option(False, "--force", help="Rebuild even when the image is current."),
) -> None:
    """Build the sandbox image (Dockerfile where a registry answers, else debootstrap from apt)."""
    from fnforge.sandbox import SandboxUnavailable, build_image
    from fnforge.sandbox.image import image_labels

    settings = _settings(repo)
    try:
        image_id = build_image(settings, progress=lambda m: progress(m), force=force)
    except SandboxUnavailable as e:
        fail(str(e), code=1)
    labels = image_labels(settings) or {}
    packages = [p for p in labels.get("fnforge.packages", "").split(",") if p]
    result(
        {
            "image": settings.image,
            "id": image_id,
            "recipe": labels.get("fnforge.recipe"),
            "packages": packages,
        },
        f"[green]ready[/green]: {settings.image} ({image_id[7:19]}) with {', '.join(packages)}",
    )


@sandbox_app.command("check")
def check(repo: Path = _REPO, backend: str = _BACKEND) -> None:
    """Prove the sandbox isolates: probe network, filesystem and limits from inside (a table)."""
    from fnforge.sandbox import SandboxUnavailable, open_pool
    from fnforge.sandbox.probes import run_probes

    settings = _settings(repo, backend)
    try:
        with warnings.catch_warnings(record=True) as caught, open_pool(settings, size=1) as pool:
            warnings.simplefilter("always")
            for w in caught:
                progress(f"warning: {w.message}")
            progress(f"probing the {pool.backend_name} sandbox from inside ...")
            rows = run_probes(pool, settings)
            backend_name = pool.backend_name
    except SandboxUnavailable as e:
        fail(str(e), code=1)
    held = all(r.held for r in rows)
    if MODE.json_lines or MODE.quiet:
        result({"backend": backend_name, "held": held, "checks": [r.__dict__ for r in rows]})
    else:
        table = Table(title=f"sandbox isolation ({backend_name} backend)")
        for col in ("area", "check", "observed inside", "held"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r.area, r.check, escape(r.observed), "[green]yes[/green]" if r.held else "[red]NO[/red]"
            )
        console.print(table)
        verdict = "[green]every check held[/green]" if held else "[red]some checks did not hold[/red]"
        console.print(verdict)
    raise typer.Exit(0 if held else 1)


@sandbox_app.command("run")
def run(
    file: Path = typer.Option(..., "--file", "-f", help="A Python file that defines the function."),
    function: str = typer.Option(None, "--function", help="The function to call (default: the file's name)."),
    args: str = typer.Option("{}", "--args", help="The arguments as a JSON object, e.g. '{\"x\": 2}'."),
    timeout: float = typer.Option(
        None, "--timeout", help="Seconds before the call is killed (default: settings)."
    ),
    repo: Path = _REPO,
    backend: str = _BACKEND,
) -> None:
    """Call one function in the sandbox and print {ok, value, error, stdout, duration_s}.

    Exit 0 when it returned, 1 when it raised, timed out or broke a limit, 2 on bad input.
    """
    from fnforge.sandbox import SandboxUnavailable, open_pool

    if not file.is_file():
        fail(f"--file {file}: no such file; give the path of a .py file that defines the function")
    try:
        source = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"--file {file}: cannot read it ({e})")
    name = function or file.stem
    if not name.isidentifier():
        fail(f"--function {name!r} is not a Python name; give the function to call, e.g. --function solve")
    try:
        call_args = json.loads(args)
    except ValueError as e:
        fail(f"--args is not JSON ({e}); write an object, e.g. --args '{{\"x\": 2}}'")
    if not isinstance(call_args, dict):
        fail(f"--args must be a JSON object of keyword arguments, e.g. '{{\"x\": 2}}', not {args}")
    if timeout is not None and timeout <= 0:
        fail(f"--timeout {timeout} must be a positive number of seconds")
    settings = _settings(repo, backend)
    try:
        with open_pool(settings, size=1) as pool:
            res = pool.call({name: source}, name, call_args, timeout=timeout)
    except SandboxUnavailable as e:
        fail(str(e), code=1)
    out = {
        "ok": res.ok,
        "value": res.value,
        "error": res.error.model_dump() if res.error else None,
        "stdout": res.stdout,
        "duration_s": res.duration_s,
    }
    print(json.dumps(out, ensure_ascii=False), flush=True)
    raise typer.Exit(0 if res.ok else 1)
