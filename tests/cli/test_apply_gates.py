"""`fnforge apply` runs hand edits through every gate that can run, and says which did not.

Real parts: a git repository made by `fnforge init`, the Docker sandbox for the policy and
property gates, and the GSM8K evaluator for validation in direct mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker


def fnforge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "fnforge.cli", *args], capture_output=True, text=True, timeout=300, env=env
    )


def action(name: str, code: str, description: str = "A test function.") -> dict[str, object]:
    return {
        "action": "add_function",
        "name": name,
        "description": description,
        "arguments": {},
        "packages": [],
        "code": code,
    }


def write_edits(path: Path, *actions: dict[str, object]) -> Path:
    path.write_text(json.dumps(list(actions)))
    return path


@pytest.fixture()
def gsm8k_repo(tmp_path: Path, datasets_dir: Path) -> Path:
    """A direct-mode GSM8K repository whose val split holds three real problems."""
    root = tmp_path / "fns"
    assert fnforge("init", str(root), "--task", "gsm8k").returncode == 0
    config = root / "fnforge.toml"
    config.write_text(config.read_text().replace('mode = "tools"', 'mode = "direct"'))
    # 5 tasks: the fewest on which the default `significant` rule can accept (p = 1/32 < 0.05)
    lines = (datasets_dir / "gsm8k" / "train.jsonl").read_text().splitlines()[:5]
    (root / "data" / "val.jsonl").write_text("\n".join(lines) + "\n")
    (root / "data" / "train.jsonl").write_text("\n".join(lines) + "\n")
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "tasks"], check=True)
    return root


def test_a_broken_property_rejects_the_step_with_the_falsifying_example(
    gsm8k_repo: Path, tmp_path: Path
) -> None:
    code = 'def half(a: int) -> int:\n    """Half of a."""\n    return a / 2\n'
    done = fnforge(
        "--json",
        "apply",
        str(write_edits(tmp_path / "e.json", action("half", code))),
        "--repo",
        str(gsm8k_repo),
    )
    assert done.returncode == 1, done.stderr
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["gate"] == "property"
    assert "half(a=" in verdict["reason"] and "float" in verdict["reason"]
    rejected = subprocess.run(
        ["git", "-C", str(gsm8k_repo), "for-each-ref", "refs/fnforge/rejected"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "step-1" in rejected


def test_direct_mode_validates_hand_edits_and_records_both_scores(gsm8k_repo: Path, tmp_path: Path) -> None:
    answers = {}
    for line in (gsm8k_repo / "data" / "val.jsonl").read_text().splitlines():
        record = json.loads(line)
        answers[record["question"]] = record["answer"].split("####")[-1].strip()
    code = (
        f"ANSWERS = {answers!r}\n\n\n"
        "def solve(question: str) -> str:\n"
        '    """Look the answer up (a stand-in for real reasoning)."""\n'
        '    return ANSWERS.get(question, "0")\n'
    )
    done = fnforge(
        "--json",
        "apply",
        str(write_edits(tmp_path / "e.json", action("solve", code))),
        "--repo",
        str(gsm8k_repo),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["score_before"] == 0.0 and verdict["score_after"] == 1.0
    trailers = subprocess.run(
        ["git", "-C", str(gsm8k_repo), "log", "-1", "--format=%B", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Fnforge-Score: 0.0 -> 1.0" in trailers, trailers
    assert "Fnforge-Decision: accepted: validation improved" in trailers, trailers


def test_tools_mode_without_a_key_says_validation_did_not_run(tmp_path: Path) -> None:
    root = tmp_path / "fns"
    assert fnforge("init", str(root), "--task", "gsm8k").returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    code = 'def twice(a: int) -> int:\n    """Twice a."""\n    return 2 * a\n'
    done = fnforge(
        "--json",
        "apply",
        str(write_edits(tmp_path / "e.json", action("twice", code))),
        "--repo",
        str(root),
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = json.loads(done.stdout.strip().splitlines()[-1])
    assert verdict["reason"].startswith("validation did not run: no API key in $OPENAI_API_KEY")
    assert [v["gate"] for v in verdict["verdicts"]] == ["static", "policy", "property", "validation"]
