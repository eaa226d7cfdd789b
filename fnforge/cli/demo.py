"""Commands for a new user's first ten minutes: `demo`, `report` and `doctor`.

Thin porcelain: `demo` and `report` call one library function each (fnforge.demo,
fnforge.report) and print; `doctor` runs the machine checks below, each of which answers
one question a user would otherwise debug by hand, and says what to do when it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from fnforge.cli import app
from fnforge.cli.output import MODE, console, fail, progress, result
from fnforge.config import CONFIG_NAME, ConfigError, Settings, load_settings


@dataclass(frozen=True)
class Check:
    """One doctor check: what was checked, how it went, and what to do when it did not."""

    name: str
    status: str  # "ok" | "warn" | "fail"
    detail: str
    fix: str = ""


def check_docker(settings: Settings) -> list[Check]:
    """Docker engine reachable; sandbox image present and built from the current recipe.

    Required when `[sandbox] backend` is "docker"; with "auto" a missing engine only warns
    (runs fall back to the weaker process backend); with "process" Docker is not needed.
    """
    backend = settings.sandbox.backend
    if backend == "process":
        return [Check("docker engine", "ok", 'not needed: [sandbox] backend = "process" (weaker isolation)')]
    missing = "fail" if backend == "docker" else "warn"
    try:
        import docker

        client = docker.from_env(version="auto", timeout=5)
        client.ping()
        version = client.version().get("Version", "?")
    except Exception as e:  # noqa: BLE001 - any failure here means "not reachable"
        first = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        return [
            Check(
                "docker engine",
                missing,
                f"not reachable ({first})",
                "start it (`sudo systemctl start docker`, or `sudo dockerd &`) and make sure your user may use "
                '/var/run/docker.sock; or set [sandbox] backend = "process" (weaker isolation)',
            )
        ]
    checks = [Check("docker engine", "ok", f"reachable, engine {version}")]
    from fnforge.sandbox.image import LABEL_PACKAGES, image_is_current, image_labels

    image = settings.sandbox.image
    labels = image_labels(settings.sandbox, client)
    if labels is None:
        checks.append(
            Check("sandbox image", "fail", f"{image} not found", "build it: `fnforge sandbox build`")
        )
    elif not image_is_current(settings.sandbox, client):
        checks.append(
            Check(
                "sandbox image",
                "fail",
                f"{image} is out of date (built from an older recipe)",
                "rebuild it: `fnforge sandbox build`",
            )
        )
    else:
        packages = labels.get(LABEL_PACKAGES, "").replace(",", ", ") or "none listed"
        checks.append(Check("sandbox image", "ok", f"{image} is current; packages: {packages}"))
    return checks


def check_git(cwd: Path) -> list[Check]:
    """git installed, and an identity to sign the commits every step makes."""
    try:
        version = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return [Check("git", "fail", "git is not installed", "install it: `sudo apt-get install git`")]
    checks = [Check("git", "ok", version)]

    def config(key: str, env: str) -> str:
        if os.environ.get(env):
            return os.environ[env]
        out = subprocess.run(
            ["git", "config", "--get", key], capture_output=True, text=True, cwd=cwd if cwd.is_dir() else None
        )
        return out.stdout.strip()

    name = config("user.name", "GIT_AUTHOR_NAME")
    email = config("user.email", "GIT_AUTHOR_EMAIL")
    if name and email:
        checks.append(Check("git identity", "ok", f"{name} <{email}>"))
    else:
        missing = " and ".join(k for k, v in (("user.name", name), ("user.email", email)) if not v)
        checks.append(
            Check(
                "git identity",
                "fail",
                f"{missing} not set; every step is a commit and needs an author",
                'run `git config --global user.name "Your Name"` and '
                "`git config --global user.email you@example.com`",
            )
        )
    return checks


def check_model(settings: Settings, timeout_s: float = 5.0) -> list[Check]:
    """The model endpoint answers `GET /models` with the key from the environment.

    Checked only when a run would ask a model (no scripted edits) and the key is set; the key
    itself is never printed.
    """
    llm = settings.llm
    needs_agent = settings.agent.mode != "direct"
    if llm.scripted_edits and not needs_agent:
        return [Check("model endpoint", "ok", "not needed: direct mode with scripted edits")]
    key = os.environ.get(llm.api_key_env, "")
    if not key:
        return [
            Check(
                "model endpoint",
                "warn",
                f"${llm.api_key_env} is not set, so {llm.base_url} was not tried",
                f"export {llm.api_key_env}=... (or set [llm] api_key_env) before `fnforge train`",
            )
        ]
    url = llm.base_url.rstrip("/") + "/models"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - the user's endpoint
            body = json.loads(response.read(1_000_000) or b"{}")
    except urllib.error.HTTPError as e:
        why = "the key was refused" if e.code in (401, 403) else f"HTTP {e.code}"
        return [
            Check(
                "model endpoint",
                "fail",
                f"{url}: {why}",
                f"check ${llm.api_key_env} and [llm] base_url in {CONFIG_NAME}",
            )
        ]
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return [
            Check(
                "model endpoint",
                "fail",
                f"{url}: not reachable ({reason})",
                f"start the server or fix [llm] base_url in {CONFIG_NAME}",
            )
        ]
    models = (
        [m.get("id") for m in body.get("data", []) if isinstance(m, dict)] if isinstance(body, dict) else []
    )
    wanted = {llm.model, llm.optimizer_model}
    if models and not wanted & set(models):
        return [
            Check(
                "model endpoint",
                "warn",
                f"{url} answers, but lists neither {' nor '.join(sorted(wanted))}",
                f"set [llm] model / optimizer_model in {CONFIG_NAME} to one of: {', '.join(models[:8])}",
            )
        ]
    return [Check("model endpoint", "ok", f"{url} answers ({len(models)} models listed)")]


def run_checks(repo: Path | None) -> list[Check]:
    """Every doctor check, for the repository's settings (or the defaults without one)."""
    checks: list[Check] = []
    settings = Settings()
    where = Path.cwd()
    if repo is not None:
        where = repo
        try:
            settings = load_settings(repo)
            checks.append(Check("fnforge.toml", "ok", f"{repo / CONFIG_NAME} is valid"))
        except ConfigError as e:
            checks.append(
                Check("fnforge.toml", "fail", str(e), "fix the file, or run `fnforge init` for a fresh one")
            )
    checks += check_git(where)
    checks += check_docker(settings)
    if repo is not None:
        checks += check_model(settings)
    return checks


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
    from fnforge.cli.train import _Progress, _user_errors
    from fnforge.demo import EXAMPLES, SCRIPTED_NOTICE, DemoError, run_demo, sparkline

    progress(SCRIPTED_NOTICE if MODE.json_lines else f"[bold]{SCRIPTED_NOTICE}[/bold]", event="notice")
    training_progress = _Progress()  # the same lines and live status as `fnforge train`

    def on_progress(event: str, **kw: object) -> None:
        if event == "demo":
            message = str(kw["message"])
            progress(message if MODE.json_lines else escape(message), event=event)
        else:
            training_progress(event, **kw)

    try:
        done = run_demo(out, examples=examples or EXAMPLES, progress=on_progress, build=build)
    except (DemoError, *_user_errors()) as e:
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
