"""`--json` and `--quiet` may stand before the command name or after it, for every command.

Each case runs the real console entry point in a child process, once with the flag before the
command and once after it (among the command's own options), and checks both print the same
thing, and that the flag really changed the output compared with no flag at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def fnforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "fnforge.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


@pytest.fixture()
def gsm8k_files(tmp_path: Path) -> tuple[Path, Path]:
    """Two GSM8K-shaped tasks and predictions for them (one right, one wrong)."""
    data = tmp_path / "tasks.jsonl"
    data.write_text(
        json.dumps({"id": "a", "question": "1+1?", "answer": "two\n#### 2"})
        + "\n"
        + json.dumps({"id": "b", "question": "2+2?", "answer": "four\n#### 4"})
        + "\n"
    )
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(
        json.dumps({"id": "a", "output": "The answer is 2."})
        + "\n"
        + json.dumps({"id": "b", "output": "The answer is 5."})
        + "\n"
    )
    return data, predictions


def test_check_takes_json_after_the_command_name(tmp_path, gsm8k_files):
    data, predictions = gsm8k_files
    args = ["--task", "gsm8k", "--data", str(data), "--predictions", str(predictions)]
    after = fnforge("check", *args, "--json", cwd=tmp_path)
    between = fnforge("check", "--json", *args, cwd=tmp_path)
    before = fnforge("--json", "check", *args, cwd=tmp_path)
    plain = fnforge("check", *args, cwd=tmp_path)
    for proc in (after, between, before, plain):
        assert proc.returncode == 0, proc.stderr
    assert after.stdout == between.stdout == before.stdout
    assert len(after.stdout.splitlines()) == 1  # JSON lines: one object on one line
    assert json.loads(after.stdout)["correct"] == 1
    assert len(plain.stdout.splitlines()) > 1  # without --json: the same object, indented


def test_init_takes_json_and_quiet_after_the_command_name(tmp_path):
    after = fnforge("init", "r1", "--task", "gsm8k", "--json", cwd=tmp_path)
    before = fnforge("--json", "init", "r2", "--task", "gsm8k", cwd=tmp_path)
    plain = fnforge("init", "r3", cwd=tmp_path)
    assert after.returncode == before.returncode == plain.returncode == 0, after.stderr + before.stderr
    assert json.loads(after.stdout) == {"repo": str(tmp_path / "r1"), "task": "gsm8k", "branch": "main"}
    assert json.loads(before.stdout)["repo"] == str(tmp_path / "r2")
    assert plain.stdout.startswith("Created function repository")


def test_log_and_doctor_take_both_flags_after_the_command_name(tmp_path):
    assert fnforge("init", "r", cwd=tmp_path).returncode == 0
    log_after = fnforge("log", "--repo", "r", "-q", "--all", cwd=tmp_path)
    log_before = fnforge("-q", "log", "--repo", "r", "--all", cwd=tmp_path)
    assert log_after.returncode == log_before.returncode == 0, log_after.stderr
    assert log_after.stdout == log_before.stdout

    quiet_after = fnforge("doctor", "--quiet", cwd=tmp_path)
    quiet_before = fnforge("--quiet", "doctor", cwd=tmp_path)
    plain = fnforge("doctor", cwd=tmp_path)
    json_after = fnforge("doctor", "--json", cwd=tmp_path)
    assert quiet_after.returncode == quiet_before.returncode == plain.returncode == json_after.returncode
    assert quiet_after.stdout == quiet_before.stdout
    assert "┃" in plain.stdout and "┃" not in quiet_after.stdout  # quiet drops the table
    checks = json.loads(json_after.stdout)["checks"]
    assert {c["name"] for c in checks} >= {"git", "docker engine", "sandbox image"}


def test_subcommands_of_a_group_take_them_too(tmp_path):
    """Commands under `fnforge sandbox` get the options as well (they list them in --help)."""
    for sub in ("build", "check", "run"):
        shown = fnforge("sandbox", sub, "--help", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "--json" in shown.stdout and "--quiet" in shown.stdout, sub


def test_an_unknown_option_after_the_command_is_still_a_usage_error(tmp_path):
    proc = fnforge("check", "--json", "--bogus", cwd=tmp_path)
    assert proc.returncode == 2
    assert "No such option" in proc.stderr and "--bogus" in proc.stderr
