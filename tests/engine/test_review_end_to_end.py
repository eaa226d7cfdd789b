"""Human review end to end: scripted models on loopback, real git, real Docker gates, the real CLI.

With `[training] review = "human"` and `review_queue = 2`, `fnforge train` stops with two
candidates waiting (step 1 adds `calculate`, step 2 adds the same calculator as `compute`;
both fix every validation task of the empty set). A reviewer approves one and rejects the
other with a reason; the rejection reaches the next optimizer request (read at the server)
and `train --resume` continues to early stop. Approving the second after the first was
merged re-runs the real gates against the new head, where it no longer improves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer, tool_calls, tool_names, tool_results

from fnforge.function_repo import FunctionRepo

FNFORGE = str(Path(sys.executable).parent / "fnforge")
SECRET = "sk-review-e2e-not-stored"
REVIEWER = "fnforge-tests <tests@fnforge.invalid>"  # tests/conftest.py's git identity
REASON = "compute duplicates calculate under another name; keep one calculator"
COMPUTE = world.CALCULATE.replace("def calculate(", "def compute(")


class ReviewWorld(world.GSM8KWorld):
    """GSM8K world whose optimizer proposes two alternative calculators, then the usual tail."""

    def agent(self, body: dict):
        names = tool_names(body)
        if "compute" in names and "calculate" not in names and not tool_results(body):
            return tool_calls(("compute", {"expression": self.expressions.get(self._question(body), "0")}))
        return super().agent(body)

    def optimizer(self, body: dict):
        done = self.steps_done(body)
        if done == 0:
            return tool_calls(("add_function", {"name": "calculate", "description": "Evaluate arithmetic.",
                                                "code": world.CALCULATE}))  # fmt: skip
        if done == 1:
            return tool_calls(("add_function", {"name": "compute", "description": "Evaluate arithmetic.",
                                                "code": COMPUTE}))  # fmt: skip
        if done == 2:
            return tool_calls(("add_function", {"name": "describe_number", "description": "Format a number.",
                                                "code": world.DESCRIBE}))  # fmt: skip
        return tool_calls(
            ("add_function", {"name": "broken", "description": "Broken.", "code": world.BROKEN})
        )


def fnforge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FNFORGE_TEST_KEY": SECRET, "COLUMNS": "250"}
    return subprocess.run([FNFORGE, *args], capture_output=True, text=True, timeout=600, env=env)


def last_json(out: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


def trailers(root: Path, ref: str) -> dict[str, list[str]]:
    text = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%(trailers:only,unfold)", ref],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        out.setdefault(key, []).append(value)
    return out


@pytest.fixture(scope="module")
def server(datasets_dir):
    records = world.pick_records(datasets_dir, 16)
    with LLMServer(ReviewWorld(records)) as s:
        s.records = records
        yield s


@pytest.fixture(scope="module")
def waiting_repo(tmp_path_factory, server) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A repository whose `fnforge train` stopped with two candidates awaiting review."""
    root = tmp_path_factory.mktemp("review") / "fns"
    config = world.config_text(
        server.base_url, extra_training=world.PAPER_RULES + 'review = "human"\nreview_queue = 2\n'
    )
    repo = FunctionRepo.init(root, config_text=config)
    world.write_split(root / "data" / "train.jsonl", server.records[:8])
    world.write_split(root / "data" / "val.jsonl", server.records[8:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K training and validation slices")
    out = fnforge("train", "--repo", str(root), "--run", "r1")
    return root, out


def copy_of(waiting_repo, tmp_path: Path) -> Path:
    root, _ = waiting_repo
    shutil.copytree(root, tmp_path / "fns", symlinks=True)
    return tmp_path / "fns"


def test_train_stops_with_two_candidates_waiting_and_says_what_to_run(waiting_repo) -> None:
    root, out = waiting_repo
    assert out.returncode == 0, out.stderr + out.stdout
    stop = [line for line in out.stdout.splitlines() if line.startswith("run r1 stopped:")]
    assert stop == [
        f"run r1 stopped: 2 candidates await review (steps 1, 2): run `fnforge review --repo {root}`, then "
        f"`fnforge approve N` or `fnforge reject N --reason ...`, then `fnforge train --repo {root} --resume`"
    ]
    assert "step 1 awaiting review (passed every gate)" in out.stdout
    repo = FunctionRepo.open(root)
    assert repo.functions() == {} and repo.steps(include_rejected=True) == []  # nothing merged or decided
    assert sorted(b for _, _, b in repo.candidate_branches()) == [
        "refs/heads/fnforge/r1/step-1", "refs/heads/fnforge/r1/step-2"]  # fmt: skip
    note = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", "fnforge/r1/step-2"))
    assert note["state"] == "awaiting review" and note["made_by"] == "trainer"
    assert [v["gate"] for v in note["verdicts"]] == ["static", "policy", "property", "validation"]
    assert (note["score_before"], note["score_after"]) == (0.0, 1.0)


def test_approve_one_reject_the_other_and_resume_to_early_stop(waiting_repo, tmp_path, server) -> None:
    root = copy_of(waiting_repo, tmp_path)
    listed = fnforge("review", "--repo", str(root), "--json", "--html", str(tmp_path / "review.html"))
    assert listed.returncode == 0, listed.stderr
    data = last_json(listed)
    assert [(w["step"], w["actions"]) for w in data["waiting"]] == [
        (1, ["add calculate"]),
        (2, ["add compute"]),
    ]
    assert len(data["waiting"][0]["flipped"]["fixed"]) == 8 and data["waiting"][0]["flipped"]["broken"] == []
    assert "+def compute(expression: str) -> float:" in data["waiting"][1]["diff"]
    page = (tmp_path / "review.html").read_text()
    assert page.count('<section class="candidate"') == 2 and "fnforge reject 2" in page

    approved = fnforge(
        "--json", "approve", "1", "--repo", str(root), "--message", "Read it; the parser is sound."
    )
    assert approved.returncode == 0, approved.stderr
    assert last_json(approved)["reviewed_by"] == REVIEWER
    t = trailers(root, "main")
    assert t["Fnforge-Reviewed-By"] == [REVIEWER] and t["Fnforge-Action"] == ["add calculate"]
    assert t["Fnforge-Decision"] == [
        "accepted: validation improved 0.000 -> 1.000 on 8 tasks (8 fixed, 0 broken); rule improves: 1.000 > 0.000"
    ]
    assert t["Fnforge-Score"] == ["0.0 -> 1.0"] and t["Fnforge-Run"] == ["r1"] and t["Fnforge-Step"] == ["1"]
    rejected = fnforge("reject", "2", "--repo", str(root), "--reason", REASON)
    assert rejected.returncode == 0, rejected.stderr

    before = server.count
    resumed = fnforge("train", "--repo", str(root), "--resume")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert "run r1 stopped: early stop: 3 steps without improvement (patience 3)" in resumed.stdout
    prompts = [
        r["messages"][0]["content"] for r in server.requests[before:] if r["model"] == world.OPTIMIZER_MODEL
    ]
    assert f"- step 2: add compute -> rejected at review: {REASON}" in prompts[0]  # what the optimizer saw
    repo = FunctionRepo.open(root)
    got = [(r.step, r.decision, r.gate, r.actions) for r in repo.steps(include_rejected=True)]
    assert got == [
        (1, "accepted", None, ["add calculate"]),
        (2, "rejected", "review", ["add compute"]),
        (3, "rejected", "validation", ["add describe_number"]),
        (4, "rejected", "optimizer", []),
    ]
    assert repo.functions() == {"calculate": world.CALCULATE} and repo.candidate_branches() == []
    assert repo.step(1).note["review"]["message"] == "Read it; the parser is sound."


def test_approving_after_the_head_moved_reruns_the_real_gates_against_it(waiting_repo, tmp_path) -> None:
    root = copy_of(waiting_repo, tmp_path)
    assert fnforge("approve", "1", "--repo", str(root)).returncode == 0
    head = FunctionRepo.open(root).head()
    out = fnforge("--json", "approve", "2", "--repo", str(root))
    assert out.returncode == 1, out.stderr  # rejected by the gates it had to pass again
    assert "moved since step 2 was proposed: replayed it onto" in out.stdout
    res = last_json(out)
    assert (res["gate"], res["score_before"], res["score_after"]) == ("validation", 1.0, 1.0)
    assert [v["gate"] for v in res["verdicts"]] == ["static", "policy", "property", "validation"]
    assert (
        res["reason"]
        == "no improvement: 1.000 -> 1.000 on 8 tasks (0 fixed, 0 broken); rule improves: 1.000 <= 1.000"
    )
    repo = FunctionRepo.open(root)
    rec = repo.step(2)
    assert rec.note["review"]["regated_against"] == head and rec.note["base"] == head
    assert trailers(root, "refs/fnforge/rejected/r1/step-2")["Fnforge-Reviewed-By"] == [REVIEWER]
    assert repo.head() == head and repo.candidate_branches() == []
