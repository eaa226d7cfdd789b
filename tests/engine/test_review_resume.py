"""Review's loose ends, as a new user meets them: approve after an early stop, then `--resume`.

The demo's TabMWP repository in direct mode with `review = "human"` and a reviewed list of
edits: step 1 (the demo's seed `solve`) passes every gate and waits; steps 2 and 3 revise a
function the set does not have and are rejected at the static gate, so with patience 2 the run stops early while
step 1 waits, and says to approve, then resume. Approving step 1 is an improvement made now:
`--resume` trains on from the new head (patience counted from the approval), and the next
candidate (the demo's second step, which revises the approved `solve`) waits in its turn.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from demo_world import EXAMPLES, direct_repo

from fnforge.engine.replay import replay
from fnforge.engine.trainer import train
from fnforge.function_repo import FunctionRepo
from fnforge.function_repo import review as rv

NOTHING = {"action": "revise_function", "name": "nothing", "code": "def nothing() -> int:\n    return 0\n"}


def review_repo(path: Path) -> FunctionRepo:
    """The demo repository with human review, patience 2 and the four reviewed steps above."""
    repo = direct_repo(path, max_steps=10)
    demo = json.loads((EXAMPLES / "demo_edits.json").read_text())
    (repo.root / "review_edits.json").write_text(json.dumps([demo[0], [NOTHING], [NOTHING], demo[1]]))
    config = (repo.root / "fnforge.toml").read_text()
    config = re.sub(r"(?m)^scripted_edits = .*$", 'scripted_edits = "review_edits.json"', config)
    config = re.sub(r"(?m)^patience = .*$", 'patience = 2\nreview = "human"', config)
    (repo.root / "fnforge.toml").write_text(config)
    repo.git.run("add", "fnforge.toml", "review_edits.json")
    repo.git.run("commit", "-q", "-m", "human review, patience 2")
    return FunctionRepo.open(path)


@pytest.fixture(scope="module")
def reviewed_run(tmp_path_factory, docker_pool):
    """Train until the early stop, approve step 1, resume until step 4 waits: the repository and both results."""
    repo = review_repo(tmp_path_factory.mktemp("review") / "fns")
    first = train(repo, run="r", pool=docker_pool)
    rv.approve(FunctionRepo.open(repo.root), 1)
    approved_head = FunctionRepo.open(repo.root).head()
    resumed = train(FunctionRepo.open(repo.root), resume=True, pool=docker_pool)
    return repo.root, first, approved_head, resumed


def test_approving_after_an_early_stop_then_resume_trains_on_and_the_next_candidate_waits(
    reviewed_run,
) -> None:
    root, first, approved_head, resumed = reviewed_run
    assert first.stopped.startswith("early stop: 2 steps without improvement (patience 2); ")
    assert "1 candidate awaits review (step 1)" in first.stopped
    assert "`fnforge approve N`" in first.stopped and "then `fnforge train --repo" in first.stopped
    assert first.stopped.endswith("--resume`")
    assert [(s.step, s.waiting, s.gate) for s in first.steps] == [
        (1, True, None),
        (2, False, "static"),
        (3, False, "static"),
    ]
    assert resumed.run == "r" and [(s.step, s.waiting) for s in resumed.steps] == [(4, True)]
    assert resumed.stopped.startswith("scripted edits exhausted; 1 candidate awaits review (step 4)")
    [w] = rv.waiting(FunctionRepo.open(root))
    assert w.step == 4 and w.base == approved_head  # proposed on the approved head
    assert w.actions[-1] == "revise solve" and w.score_after > w.score_before


def test_an_offline_replay_makes_the_reviewers_decisions_where_they_were_made(
    reviewed_run, tmp_path: Path, docker_pool
) -> None:
    root = tmp_path / "fns"
    shutil.copytree(reviewed_run[0], root, symlinks=True)
    rv.reject(FunctionRepo.open(root), 4, "solve reads tables it was not asked about")
    repo = FunctionRepo.open(root)
    got = replay(repo, "r", pool=docker_pool)
    assert got.identical, got.differences
    assert got.steps == 4 and got.training is not None
    assert [(s.step, s.waiting) for s in got.training.steps] == [(1, True), (2, False), (3, False), (4, True)]
    assert got.training.stopped.startswith("max_steps reached (4)")  # where the recorded run stopped
    assert [(r.step, r.decision, r.gate) for r in repo.steps(include_rejected=True)] == [
        (1, "accepted", None),
        (2, "rejected", "static"),
        (3, "rejected", "static"),
        (4, "rejected", "review"),
    ]  # the repository replayed is untouched
