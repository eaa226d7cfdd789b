"""`fnforge doctor`: is this machine ready to train, and if not, what to do.

Each check answers one question a user would otherwise debug by hand (is a Docker engine
reachable, is the sandbox image present and current, does git have an identity, is the
experiment file valid, does the model endpoint answer, can the data files be read) and says what to do when it fails.
The CLI prints them; tests call them directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

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


def check_data(repo: Path, settings: Settings) -> list[Check]:
    """Each `[data]` split: its rows and format, bad rows by line, and whether a run would start.

    The index each file needs is built here and cached, so the next run starts without a pass.
    """
    from fnforge.engine.data_sources import split_reports

    checks = []
    for r in split_reports(repo, settings):
        name = f"data {r.split}"
        if r.error:
            status = "warn" if r.missing else "fail"  # a fresh repository has no data yet
            checks.append(Check(name, status, r.error, f"fix [data] {r.split} in {CONFIG_NAME} or the file"))
            continue
        rows = sum(f.rows for f in r.files)
        bad = sum(f.bad_count for f in r.files)
        formats = ", ".join(sorted({f.format for f in r.files}))
        detail = f"{r.path}: {rows} tasks ({formats}, {len(r.files)} file{'s' * (len(r.files) != 1)})"
        first_bad = next((line for f in r.files for line in f.bad[:1]), "")
        if r.refused:
            checks.append(Check(name, "fail", r.refused, "fix the rows listed by `fnforge data check`"))
        elif bad:
            checks.append(
                Check(
                    name, "warn", f"{detail}; {bad} bad rows skipped, the first: {first_bad}", "fix the rows"
                )
            )
        else:
            checks.append(Check(name, "ok", detail))
    return checks


def run_checks(repo: Path | None) -> list[Check]:
    """Every doctor check, for the repository's settings (or the defaults without one)."""
    checks: list[Check] = []
    settings = Settings()
    where = Path.cwd()
    configured = False
    if repo is not None:
        where = repo
        try:
            settings = load_settings(repo)
            configured = True
            checks.append(Check("fnforge.toml", "ok", f"{repo / CONFIG_NAME} is valid"))
        except ConfigError as e:
            checks.append(
                Check("fnforge.toml", "fail", str(e), "fix the file, or run `fnforge init` for a fresh one")
            )
    checks += check_git(where)
    checks += check_docker(settings)
    if repo is not None:
        checks += check_model(settings)
        checks += check_data(repo, settings) if configured else []
    return checks
