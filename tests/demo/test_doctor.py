"""`fnforge doctor`: every check reports what it found, and each failure says what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llm_server import LLMServer, text

from fnforge.config import load_settings, render_template
from fnforge.doctor import check_model

FNFORGE = str(Path(sys.executable).with_name("fnforge"))
SECRET = "sk-doctor-test-3f9c1e"


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    proc = subprocess.run(
        [FNFORGE, "--json", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or os.environ.copy(),
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def experiment(tmp_path: Path, **replace: str) -> Path:
    """A directory with an fnforge.toml (the template, with some settings replaced)."""
    text = render_template("tabmwp")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    root = tmp_path / "exp"
    root.mkdir(exist_ok=True)
    (root / "fnforge.toml").write_text(text)
    return root


def test_doctor_finds_this_machine_ready(tmp_path):
    code, report = doctor()
    checks = by_name(report)
    assert code == 0 and report["ok"], report
    assert checks["docker engine"]["status"] == "ok" and "reachable" in checks["docker engine"]["detail"]
    assert checks["sandbox image"]["status"] == "ok" and "hypothesis" in checks["sandbox image"]["detail"]
    assert checks["git identity"]["status"] == "ok"


def test_missing_git_identity_fails_with_the_commands_that_fix_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(tmp_path), GIT_CONFIG_GLOBAL=str(tmp_path / "none"), GIT_CONFIG_NOSYSTEM="1")
    code, report = doctor(env=env)
    identity = by_name(report)["git identity"]
    assert code == 1 and not report["ok"]
    assert identity["status"] == "fail" and "user.name and user.email not set" in identity["detail"]
    assert "git config --global user.name" in identity["fix"]


def test_unreachable_docker_fails_when_required_and_only_warns_under_auto(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock"}
    required = experiment(tmp_path, **{'backend = "auto"': 'backend = "docker"'})
    code, report = doctor("--repo", str(required), env=env)
    engine = by_name(report)["docker engine"]
    assert code == 1 and engine["status"] == "fail" and "not reachable" in engine["detail"]
    assert "systemctl start docker" in engine["fix"] and 'backend = "process"' in engine["fix"]

    auto = experiment(tmp_path)  # the template's backend = "auto": the process backend takes over
    code, report = doctor("--repo", str(auto), env=env)
    assert by_name(report)["docker engine"]["status"] == "warn"
    assert code == 0, report


def test_model_endpoint_is_tried_with_the_key_and_never_prints_it(tmp_path):
    with LLMServer(lambda body: text("hi")) as server:
        root = experiment(
            tmp_path,
            **{
                'base_url = "https://api.openai.com/v1"': f'base_url = "{server.base_url}"',
                'model = "gpt-4o-mini"': 'model = "scripted"',
            },
        )
        os.environ["FNFORGE_DOCTOR_KEY"] = SECRET
        try:
            settings = load_settings(root).model_copy(deep=True)
            settings = settings.model_copy(
                update={"llm": settings.llm.model_copy(update={"api_key_env": "FNFORGE_DOCTOR_KEY"})}
            )
            [ok] = check_model(settings)
            assert ok.status == "ok" and server.base_url in ok.detail and "1 models" in ok.detail
            server.stop()
            [down] = check_model(settings, timeout_s=2)
        finally:
            del os.environ["FNFORGE_DOCTOR_KEY"]
    assert down.status == "fail" and "not reachable" in down.detail and "base_url" in down.fix
    assert SECRET not in repr([ok, down])


def test_model_endpoint_without_a_key_warns_and_a_bad_config_fails(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    root = experiment(tmp_path)
    code, report = doctor("--repo", str(root), env=env)
    model = by_name(report)["model endpoint"]
    assert model["status"] == "warn" and "OPENAI_API_KEY is not set" in model["detail"]

    bad = experiment(tmp_path, **{"memory_mb = 256": 'memory_mb = "lots"'})
    code, report = doctor("--repo", str(bad), env=env)
    config = by_name(report)["fnforge.toml"]
    assert code == 1 and config["status"] == "fail" and "memory_mb" in config["detail"]


def test_the_human_table_keeps_bracketed_config_names_and_says_what_failed(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock", "COLUMNS": "250"}
    required = experiment(tmp_path, **{'backend = "auto"': 'backend = "docker"'})
    proc = subprocess.run(
        [FNFORGE, "doctor", "--repo", str(required)], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 1
    assert '[sandbox] backend = "process"' in proc.stdout  # not eaten as rich markup
    assert "FAIL" in proc.stdout and "something required failed" in proc.stdout
