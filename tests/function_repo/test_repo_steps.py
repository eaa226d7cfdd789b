"""Steps on real git: candidates, merges, rejected refs, notes, trailers, rollback, numbering."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from repo_helpers import ScoreGate, add, git, remove, revise

from fnforge.function_repo import FunctionRepo, RepoError, StaticGate, parse_actions
from fnforge.protocol import Verdict


def trailers(root, rev) -> dict[str, list[str]]:
    """Trailers as plain git parses them (`git interpret-trailers --parse`)."""
    msg = git(root, "log", "-1", "--format=%B", rev)
    out: dict[str, list[str]] = {}
    for line in git(root, "interpret-trailers", "--parse", input=msg).splitlines():
        k, _, v = line.partition(": ")
        out.setdefault(k, []).append(v)
    return out


def note(root, rev) -> dict:
    """The JSON note as plain git shows it (`git notes --ref fnforge show`)."""
    return json.loads(git(root, "notes", "--ref", "fnforge", "show", rev))


def test_init_writes_the_layout_and_one_commit_on_main(repo):
    root = repo.root
    for path in ["fnforge.toml", "functions/.gitkeep", "tests/.gitkeep", "data/.gitkeep"]:
        assert (root / path).exists(), path
    assert git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"
    assert repo.settings.task.name == "gsm8k"
    assert FunctionRepo.open(root).branch == "main"
    with pytest.raises(RepoError, match="already a git repository"):
        FunctionRepo.init(root)


def test_open_refuses_a_directory_that_is_not_a_function_repository(tmp_path):
    with pytest.raises(RepoError, match="no such directory"):
        FunctionRepo.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(RepoError, match="not a fnforge repository"):
        FunctionRepo.open(tmp_path / "plain")


def test_propose_commits_one_commit_per_action_on_a_candidate_branch_without_moving_main(repo):
    head = repo.head()
    cand = repo.propose(parse_actions([add("mean_of"), add("max_of", body="return max(xs)")]), run="r1")
    assert cand.step == 1 and cand.branch == "fnforge/r1/step-1"
    assert repo.head() == head
    commits = git(repo.root, "rev-list", f"{head}..{cand.branch}").split()
    assert len(commits) == 2
    t = trailers(repo.root, cand.branch)
    assert t == {"Fnforge-Run": ["r1"], "Fnforge-Step": ["1"], "Fnforge-Action": ["add max_of"]}
    assert trailers(repo.root, f"{cand.branch}~1")["Fnforge-Action"] == ["add mean_of"]
    assert sorted(cand.functions) == ["max_of", "mean_of"] and cand.changed == ["mean_of", "max_of"]
    assert cand.base_functions == {} and cand.commit_sha == commits[0]
    assert git(repo.root, "status", "--porcelain").strip() == ""  # the work tree is untouched


def test_accepted_step_is_a_no_ff_merge_with_trailers_and_notes(repo):
    res = repo.run_step(
        [add("mean_of", tests="def test_x():\n    assert True\n")],
        [StaticGate(), ScoreGate(0.5, 0.75)],
        run="r1",
        note_extra={"train_score": 0.4, "tokens": 1234},
    )
    assert res.accepted and res.step == 1
    root = repo.root
    head = git(root, "rev-parse", "main").strip()
    assert head == res.commit
    assert len(git(root, "rev-list", "--parents", "-n", "1", head).split()) == 3  # a merge
    t = trailers(root, "main")
    assert t["Fnforge-Run"] == ["r1"] and t["Fnforge-Step"] == ["1"]
    assert t["Fnforge-Action"] == ["add mean_of"]
    assert t["Fnforge-Score"] == ["0.5 -> 0.75"]
    assert t["Fnforge-Decision"] == ["accepted: validation 0.5 -> 0.75"]
    n = note(root, "main")
    assert n["step"] == 1 and n["decision"] == "accepted" and n["run"] == "r1"
    assert [v["gate"] for v in n["verdicts"]] == ["static", "validation"]
    assert n["score_before"] == 0.5 and n["score_after"] == 0.75
    assert n["train_score"] == 0.4 and n["tokens"] == 1234
    assert note(root, "main^2") == n  # the candidate head carries the same note
    assert git(root, "branch", "--list", "fnforge/*").strip() == ""  # candidate branch deleted
    assert (root / "functions" / "mean_of.py").read_text() == repo.functions()["mean_of"]
    assert repo.tests() == {"mean_of": "def test_x():\n    assert True\n"}
    assert (root / "tests" / "test_mean_of.py").exists()


def test_rejected_step_is_kept_under_a_rejected_ref_with_its_gate_and_reason(repo):
    before = repo.head()
    res = repo.run_step([add("mean_of")], [StaticGate(), ScoreGate(0.5, 0.5)], run="r1")
    assert not res.accepted and res.gate == "validation"
    assert repo.head() == before
    root = repo.root
    ref = "refs/fnforge/rejected/r1/step-1"
    assert git(root, "rev-parse", ref).strip() == res.commit
    t = trailers(root, ref)
    assert t["Fnforge-Decision"] == ["rejected: validation: validation 0.5 -> 0.5: no improvement"]
    assert t["Fnforge-Score"] == ["0.5 -> 0.5"]
    assert note(root, ref)["gate"] == "validation"
    assert note(root, f"{ref}^")["decision"] == "rejected"  # the candidate head
    assert "fnforge/r1/step-1" not in git(root, "branch", "--list")
    assert "functions/mean_of.py" in git(root, "ls-tree", "-r", "--name-only", ref)
    assert not (root / "functions" / "mean_of.py").exists()


def test_a_crashing_gate_rejects_the_step_instead_of_raising(repo):
    class Broken:
        name = "property"

        def check(self, candidate):
            raise RuntimeError("sandbox exploded")

    res = repo.run_step([add("mean_of")], [StaticGate(), Broken()])
    assert not res.accepted and res.gate == "property"
    assert "gate crashed: RuntimeError: sandbox exploded" in res.reason


def test_gates_run_in_order_and_stop_at_the_first_failure(repo):
    seen = []

    class Spy:
        def __init__(self, name, ok):
            self.name, self.ok = name, ok

        def check(self, candidate):
            seen.append(self.name)
            return Verdict(gate=self.name, passed=self.ok, reason="")

    res = repo.run_step([add("f")], [Spy("a", True), Spy("b", False), Spy("c", True)])
    assert seen == ["a", "b"] and res.gate == "b" and len(res.verdicts) == 2


def test_step_numbers_are_global_continuous_and_include_rejections(repo):
    assert repo.run_step([add("f")], [StaticGate()], run="a").step == 1
    assert repo.run_step([add("f")], [StaticGate()], run="b").step == 2  # rejected: f exists
    assert repo.record_rejection("b", "optimizer", "no tool call in the reply").step == 3
    assert repo.run_step([revise("f", body="return 0.0")], [StaticGate()], run="c").step == 4
    steps = repo.steps(include_rejected=True)
    assert [(s.step, s.decision, s.run) for s in steps] == [
        (1, "accepted", "a"), (2, "rejected", "b"), (3, "rejected", "b"), (4, "accepted", "c"),
    ]  # fmt: skip
    assert [s.step for s in repo.steps()] == [1, 4]
    rec = repo.step(3)
    assert rec.gate == "optimizer" and rec.reason == "no tool call in the reply" and rec.actions == []
    assert git(repo.root, "rev-parse", "refs/fnforge/rejected/b/step-3").strip() == rec.commit
    assert trailers(repo.root, rec.commit)["Fnforge-Decision"] == [
        "rejected: optimizer: no tool call in the reply"
    ]
    with pytest.raises(RepoError, match="step 9 does not exist"):
        repo.step(9)


def test_functions_at_any_step_and_the_diff_between_steps(repo):
    repo.run_step([add("f")], [StaticGate()])
    repo.run_step([revise("f", body="return 1.0"), add("g")], [StaticGate()])
    repo.run_step([remove("g")], [StaticGate()])
    assert sorted(repo.functions(1)) == ["f"] and sorted(repo.functions(2)) == ["f", "g"]
    assert sorted(repo.functions()) == ["f"] and "return 1.0" in repo.functions()["f"]
    assert repo.functions(0) == {}
    assert repo.functions("main") == repo.functions(3)
    d = repo.diff(1, 2)
    assert "+    return 1.0" in d and "functions/g.py" in d
    assert repo.step(3).actions == ["remove g"]
    with pytest.raises(RepoError, match="not a step number, branch or commit"):
        repo.functions("no-such-branch")


def test_rollback_reverts_a_merge_as_its_own_step(repo):
    repo.run_step([add("f")], [StaticGate()])
    repo.run_step([add("g")], [StaticGate()])
    repo.run_step([revise("f", body="return 2.0")], [StaticGate()])
    res = repo.rollback(2)  # not the head: a real three-way revert
    assert res.accepted and res.step == 4 and res.actions == ["remove g"]
    assert sorted(repo.functions()) == ["f"] and "return 2.0" in repo.functions()["f"]
    t = trailers(repo.root, "main")
    assert t["Fnforge-Rollback"] == ["2"] and t["Fnforge-Step"] == ["4"]
    assert t["Fnforge-Decision"] == ["accepted: rollback of step 2"]
    assert note(repo.root, "main")["rolls_back"] == 2
    assert "This reverts commit" in git(repo.root, "log", "-1", "--format=%B", "main")
    rec = repo.step(4)
    assert rec.kind == "rollback" and rec.rolled_back == 2
    assert not (repo.root / "functions" / "g.py").exists()
    assert git(repo.root, "status", "--porcelain").strip() == ""
    with pytest.raises(RepoError, match="already undone"):
        repo.rollback(2)


def test_rollback_refuses_rejected_unknown_and_conflicting_steps(repo):
    repo.run_step([add("f")], [StaticGate()])
    repo.run_step([add("bad", params="x")], [StaticGate()])  # rejected
    repo.run_step([revise("f", body="return 3.0")], [StaticGate()])
    with pytest.raises(RepoError, match="step 2 was rejected"):
        repo.rollback(2)
    with pytest.raises(RepoError, match="step 7 does not exist"):
        repo.rollback(7)
    with pytest.raises(RepoError, match="conflicts with later steps in functions/f.py"):
        repo.rollback(1)


def test_dirty_work_tree_is_refused_with_a_clear_error(repo):
    repo.run_step([add("f")], [StaticGate()])
    (repo.root / "functions" / "f.py").write_text("# edited by hand\n")
    with pytest.raises(RepoError, match=r"uncommitted changes in functions/f.py"):
        repo.run_step([add("g")], [StaticGate()])
    with pytest.raises(RepoError, match="uncommitted changes"):
        repo.rollback(1)
    assert repo.steps(include_rejected=True)[-1].step == 1


def test_commits_as_fnforge_when_git_has_no_identity(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), GIT_CONFIG_NOSYSTEM="1")
    code = (
        "from fnforge.function_repo import FunctionRepo, StaticGate\n"
        "import sys, json\n"
        "r = FunctionRepo.init(sys.argv[1])\n"
        "a = json.loads(sys.argv[2])\n"
        "print(r.run_step([a], [StaticGate()]).accepted)\n"
    )
    target = tmp_path / "fns"
    proc = subprocess.run([sys.executable, "-c", code, str(target), json.dumps(add("f"))],
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr
    who = subprocess.run(["git", "log", "-1", "--format=%an <%ae>|%cn <%ce>"], cwd=target, env=env,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert who == "fnforge <fnforge@localhost>|fnforge <fnforge@localhost>"


def test_history_is_readable_without_fnforge(repo):
    repo.run_step([add("f")], [StaticGate()], run="r1")
    repo.run_step([add("f")], [StaticGate()], run="r1")
    root = repo.root
    grep = git(root, "log", "--all", "--format=%s", "--grep=Fnforge-Decision: rejected")
    assert "Reject step 2" in grep
    assert "refs/fnforge/rejected/r1/step-2" in git(root, "for-each-ref", "refs/fnforge")
    assert git(root, "fsck", "--no-progress").strip() == ""


def test_rollback_merges_line_edits_that_do_not_overlap_like_git_revert(repo):
    lines = "\n".join(f"v{i} = {i}" for i in range(12))
    repo.run_step([add("f", body=f"{lines}\nreturn 0.0")], [StaticGate()])
    repo.run_step([revise("f", body=f"{lines.replace('v1 = 1', 'v1 = 100')}\nreturn 0.0")], [StaticGate()])
    later = lines.replace("v1 = 1", "v1 = 100").replace("v10 = 10", "v10 = 1000")
    repo.run_step([revise("f", body=f"{later}\nreturn 0.0")], [StaticGate()])
    res = repo.rollback(2)  # undo v1 = 100 but keep step 3's v10 = 1000
    src = repo.functions()["f"]
    assert "v1 = 1\n" in src and "v1 = 100" not in src and "v10 = 1000" in src
    assert res.actions == ["revise f"] and src.endswith("return 0.0\n")
