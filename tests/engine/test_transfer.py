"""Transfer: a trained set scored on other data under another model, kept outside the run's history.

Real GSM8K slices (tests/data), the scripted models on loopback, real git and Docker. After a
one-step run that accepts `calculate`, `fnforge eval --ref 1 --data OTHER --model other-model`
scores step 1 on a file that is no split of the repository, with a model the settings do not
name. The repository's settings and history are unchanged; the score is a note on the step's
commit under refs/notes/fnforge-evals, and `fnforge report` shows it in its transfer table.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import gsm8k_world as world
import trust_world as tw
from llm_server import LLMServer

from fnforge.engine.trainer import train

FNFORGE = str(Path(sys.executable).parent / "fnforge")
TRAIN, VAL, OTHER = tw.records(8), tw.records(8, skip=8), tw.records(12, skip=24)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FNFORGE_TEST_KEY": "sk-test"}
    return subprocess.run([FNFORGE, *args], capture_output=True, text=True, env=env, timeout=300)


def test_transfer_to_other_data_and_model_is_kept_and_reported(tmp_path, docker_pool) -> None:
    os.environ["FNFORGE_TEST_KEY"] = "sk-test"
    with LLMServer(world.GSM8KWorld(TRAIN + VAL + OTHER)) as server:
        repo = tw.make_repo(tmp_path / "fns", server.base_url, TRAIN, VAL)
        (step,) = train(repo, run="r1", pool=docker_pool).steps
        assert step.accepted
        other = tmp_path / "elsewhere" / "other.jsonl"
        world.write_split(other, OTHER)
        settings_before = (repo.root / "fnforge.toml").read_text()
        steps_before = [(r.step, r.decision) for r in repo.steps(include_rejected=True)]
        before = len(server.requests)

        out = cli(
            "--json",
            "eval",
            "--repo",
            str(repo.root),
            "--ref",
            "1",
            "--data",
            str(other),
            "--model",
            "other-model",
        )
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout.strip().splitlines()[-1])
        asked = server.requests[before:]
        assert asked and {r["model"] for r in asked} == {"other-model"}
        assert data["kind"] == "transfer" and data["model"] == "other-model" and data["n"] == 12
        assert data["accuracy"] == 1.0 and data["data"] == str(other)
        lo, hi = data["interval"]
        assert 0.7 < lo < hi == 1.0

    assert (repo.root / "fnforge.toml").read_text() == settings_before
    assert [(r.step, r.decision) for r in repo.steps(include_rejected=True)] == steps_before
    assert repo.git.run("status", "--porcelain") == ""
    step1 = repo.step(1).commit
    kept = json.loads(repo.git.run("notes", "--ref", "fnforge-evals", "show", step1))
    assert kept["model"] == "other-model" and kept["accuracy"] == 1.0
    assert "fnforge-evals" not in repo.git.run("log", "--first-parent", "--format=%B", "main")
    assert json.loads(repo.git.run("notes", "--ref", "fnforge", "show", step1)).get("kind") != "transfer"

    report = tmp_path / "report.html"
    out = cli("report", "--repo", str(repo.root), "--out", str(report))
    assert out.returncode == 0, out.stderr
    page = report.read_text()
    table = page[
        page.index('<table id="transfer">') : page.index("</table>", page.index('<table id="transfer">'))
    ]
    rows = re.findall(r"<tr><td>(.*?)</tr>", table)
    assert len(rows) == 1
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + rows[0])]
    assert cells[0].startswith("step 1 (head)")
    assert cells[1:6] == [str(other), "gsm8k", "other-model", "tools", "1.000"]
    assert cells[6] == f"[{lo:.3f}, {hi:.3f}]" and cells[7] == "12"
