"""The human review gate in the store and on the command line, with real git.

Candidates are held for review with the store's own static gate and a stand-in validation
gate (the engine's gates are tested end to end in tests/engine/test_review_end_to_end.py);
every outcome is read back with plain git, as a reviewer auditing the repository would.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from repo_helpers import ScoreGate, add, cli, git, module, revise

from fnforge.function_repo import FunctionRepo, RepoError, StaticGate
from fnforge.function_repo import review as rv

REVIEWER = "Rita Reviewer <rita@review.invalid>"
ENV = {"GIT_COMMITTER_NAME": "Rita Reviewer", "GIT_COMMITTER_EMAIL": "rita@review.invalid"}


@pytest.fixture(autouse=True)
def reviewer(monkeypatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def hold(repo: FunctionRepo, actions: list[dict], before: float = 0.0, after: float = 0.5, **extra):
    candidate = repo.propose(actions, run="r")
    return rv.hold(repo, candidate, [StaticGate(), ScoreGate(before, after)], {"made_by": "trainer", **extra})


def trailers(repo: FunctionRepo, ref: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    text = git(repo.root, "log", "-1", "--format=%(trailers:only,unfold)", ref)
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        if key:
            out.setdefault(key, []).append(value)
    return out


def note(repo: FunctionRepo, ref: str) -> dict:
    return json.loads(git(repo.root, "notes", "--ref", "fnforge", "show", ref))


def test_a_candidate_that_passes_every_gate_waits_on_its_branch_and_survives_recovery(repo) -> None:
    res = hold(repo, [add("mean_of")], train={"accuracy": 0.25})
    failed = hold(repo, [add("max_of")], before=0.5, after=0.5)
    assert res.waiting and not res.accepted and res.decision == "awaiting review: validation 0.0 -> 0.5"
    assert not failed.waiting and failed.gate == "validation"  # a failing gate is recorded as usual
    head_note = note(repo, "fnforge/r/step-1")
    assert head_note["state"] == "awaiting review" and head_note["train"] == {"accuracy": 0.25}
    assert [v["gate"] for v in head_note["verdicts"]] == ["static", "validation"]
    assert repo.functions() == {} and repo.recover() == []  # not merged, and not swept as half-made
    [w] = rv.waiting(repo)
    assert (w.step, w.branch, w.actions, w.score_after) == (1, "fnforge/r/step-1", ["add mean_of"], 0.5)
    assert repo.next_step() == 3 and [r.step for r in repo.steps(include_rejected=True)] == [2]
    assert "1 candidate awaits review (step 1): run `fnforge review --repo" in rv.stop_line(repo)


def test_approve_merges_as_an_automatic_acceptance_would_plus_the_reviewer(repo, tmp_path) -> None:
    twin = FunctionRepo.init(tmp_path / "twin")  # the same step accepted automatically
    twin.run_step([add("mean_of")], [StaticGate(), ScoreGate(0.0, 0.5)], run="r")
    hold(repo, [add("mean_of")], train={"accuracy": 0.25})
    base = repo.head()
    res = rv.approve(repo, 1, message="Checked the empty-list case by hand.")
    assert res.accepted and repo.functions() == twin.functions()
    parents = git(repo.root, "rev-list", "--parents", "-n", "1", "main").split()[1:]
    assert parents[0] == base and len(parents) == 2  # the same --no-ff merge of the candidate
    got, want = trailers(repo, "main"), trailers(twin, "main")
    assert got.pop("Fnforge-Reviewed-By") == [REVIEWER]
    assert got == want  # Run, Step, Action, Score and Decision exactly as automatic
    body = git(repo.root, "log", "-1", "--format=%B", "main")
    assert body.startswith("Step 1: add mean_of\n\nChecked the empty-list case by hand.\n")
    merged = note(repo, "main")
    assert merged["decision"] == "accepted" and merged["train"] == {"accuracy": 0.25}
    assert merged["review"]["state"] == "approved" and merged["review"]["reviewer"] == REVIEWER
    assert "state" not in merged and "pending_actions" not in merged
    assert repo.candidate_branches() == [] and rv.waiting(repo) == []
    [rec] = repo.steps()
    assert (rec.step, rec.decision, rec.actions) == (1, "accepted", ["add mean_of"])


def test_reject_records_gate_review_with_the_reason_in_the_history(repo) -> None:
    hold(repo, [add("mean_of")])
    res = rv.reject(repo, 1, "mean_of must raise on an empty list, not return 0")
    assert (res.accepted, res.gate) == (False, "review")
    [rec] = repo.steps(include_rejected=True)
    assert (rec.gate, rec.reason) == ("review", "mean_of must raise on an empty list, not return 0")
    assert rec.score_after == 0.5 and rec.note["review"]["reviewer"] == REVIEWER
    t = trailers(repo, "refs/fnforge/rejected/r/step-1")
    assert t["Fnforge-Decision"] == ["rejected: review: mean_of must raise on an empty list, not return 0"]
    assert t["Fnforge-Reviewed-By"] == [REVIEWER]
    assert repo.functions() == {} and rv.waiting(repo) == []
    with pytest.raises(RepoError, match="needs a reason"):
        rv.reject(repo, 1, "  ")


def test_approve_on_a_moved_head_replays_the_candidate_and_runs_the_given_gates_again(repo) -> None:
    hold(repo, [add("mean_of")])
    hold(repo, [add("sum_of"), add("max_of", body="return max(xs)")], after=0.4)
    rv.approve(repo, 1)
    with pytest.raises(RepoError, match="moved since step 2 was proposed"):
        rv.approve(repo, 2)  # no gates to run again: refused, still waiting
    assert [w.step for w in rv.waiting(repo)] == [2]
    seen = []

    class Spy(ScoreGate):
        def check(self, candidate):
            seen.append((sorted(candidate.base_functions), sorted(candidate.functions)))
            return super().check(candidate)

    head = repo.head()
    res = rv.approve(repo, 2, regate=lambda: [StaticGate(), Spy(0.5, 0.7)])
    assert res.accepted and (res.score_before, res.score_after) == (0.5, 0.7)  # the new verdicts
    assert seen == [(["mean_of"], ["max_of", "mean_of", "sum_of"])]  # gated against the new head
    assert sorted(repo.functions()) == ["max_of", "mean_of", "sum_of"]
    assert git(repo.root, "rev-parse", "main^1").strip() == head
    assert git(repo.root, "log", "--format=%s", "main^2", "-2").splitlines() == [
        "add max_of: max_of.", "add sum_of: sum_of."]  # fmt: skip
    n = note(repo, "main")
    assert n["review"]["regated_against"] == head and n["base"] == head


def test_a_replayed_candidates_commits_as_proposed_survive_git_gc(repo) -> None:
    hold(repo, [add("mean_of")])
    hold(repo, [add("sum_of")], after=0.4)
    proposed = git(repo.root, "rev-parse", "fnforge/r/step-2").strip()
    rv.approve(repo, 1)
    rv.approve(repo, 2, regate=lambda: [StaticGate(), ScoreGate(0.5, 0.7)])
    assert note(repo, "main")["review"]["replayed_from"] == proposed
    git(repo.root, "reflog", "expire", "--expire=now", "--all")
    git(repo.root, "gc", "-q", "--prune=now")
    # what the note points at is still there, under the replayed ref, with its own note
    assert git(repo.root, "cat-file", "-t", proposed).strip() == "commit"
    assert git(repo.root, "rev-parse", "refs/fnforge/replayed/r/step-2").strip() == proposed
    assert note(repo, proposed)["state"] == "awaiting review"
    assert [r.step for r in repo.steps(include_rejected=True)] == [1, 2]  # no extra step in the history


def test_patience_counts_from_an_approval_not_from_the_approved_step(repo) -> None:
    from fnforge.engine.run_records import progress_state, run_records

    hold(repo, [add("mean_of")], before=0.0, after=0.5)
    for name in ("a_of", "b_of", "c_of"):  # three steps without improvement while step 1 waits
        hold(repo, [add(name)], before=0.0, after=0.0)
    assert progress_state(run_records(repo, "r")) == (4, 3)
    rv.approve(repo, 1)
    assert repo.step(1).note["review"]["after_step"] == 4
    assert progress_state(run_records(repo, "r")) == (4, 0)  # the approval is the last improvement
    hold(repo, [add("d_of")], before=0.5, after=0.5)
    assert progress_state(run_records(repo, "r")) == (5, 1)


def test_a_re_gate_can_reject_and_a_conflict_refuses_with_the_candidate_still_waiting(repo) -> None:
    hold(repo, [add("mean_of")])
    hold(repo, [add("mean_of", body="return sum(xs) / len(xs)")])  # the same function, other code
    hold(repo, [add("sum_of")])
    rv.approve(repo, 1)
    with pytest.raises(RepoError, match=r"step 2 no longer applies cleanly on main .*functions/mean_of.py"):
        rv.approve(repo, 2, regate=lambda: [StaticGate()])
    assert [w.step for w in rv.waiting(repo)] == [2, 3] and sorted(repo.functions()) == ["mean_of"]
    tip = git(repo.root, "rev-parse", "fnforge/r/step-3").strip()

    def no_sandbox():
        raise RepoError("no Docker engine answers")

    class Interrupted:
        name = "validation"

        def check(self, candidate):
            raise KeyboardInterrupt

    with pytest.raises(RepoError, match="no Docker"):
        rv.approve(repo, 3, regate=no_sandbox)
    with pytest.raises(KeyboardInterrupt):
        rv.approve(repo, 3, regate=lambda: [StaticGate(), Interrupted()])
    assert (
        git(repo.root, "rev-parse", "fnforge/r/step-3").strip() == tip
    )  # undecided: still waiting as it was
    assert [w.step for w in rv.waiting(repo)] == [2, 3] and repo.recover() == []
    res = rv.approve(repo, 3, regate=lambda: [StaticGate(), ScoreGate(0.5, 0.5)])
    assert (res.accepted, res.gate) == (False, "validation")  # no gain over the new head
    assert trailers(repo, "refs/fnforge/rejected/r/step-3")["Fnforge-Reviewed-By"] == [REVIEWER]


def test_cli_review_json_approve_reject_and_the_one_line_errors(repo) -> None:
    hold(repo, [add("mean_of")])
    hold(repo, [add("max_of")], before=0.0, after=0.0)  # rejected at validation: not waiting
    hold(repo, [add("sum_of")], after=0.6)
    out = cli("review", "--repo", str(repo.root), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["count"] == 2 and [w["step"] for w in data["waiting"]] == [1, 3]
    first = data["waiting"][0]
    assert first["state"] == "awaiting review" and first["actions"] == ["add mean_of"]
    assert [v["gate"] for v in first["verdicts"]] == ["static", "validation"]
    assert first["diff"].startswith("diff --git a/functions/mean_of.py") and "\x1b[" not in first["diff"]
    assert (first["score_before"], first["score_after"]) == (0.0, 0.5) and first["base_is_head"]

    for args, words in [
        (("approve", "2"), "error: step 2 is not waiting for review: it was already rejected at validation"),
        (("approve", "9"), "error: step 9 is not waiting for review: no such step"),
        (("reject", "3"), "error: a rejection needs a reason"),
    ]:
        bad = cli(*args, "--repo", str(repo.root), env=ENV)
        assert bad.returncode == 2 and bad.stderr.startswith(words), bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    ok = cli("--json", "approve", "1", "--repo", str(repo.root), "-m", "fine", env=ENV)
    assert ok.returncode == 0, ok.stderr
    done = json.loads(ok.stdout.strip().splitlines()[-1])
    assert done["decision"] == "accepted" and done["reviewed_by"] == REVIEWER
    again = cli("approve", "1", "--repo", str(repo.root), env=ENV)
    assert (
        again.returncode == 2 and "step 1 is not waiting for review: it was already accepted" in again.stderr
    )
    shown = cli("review", "--repo", str(repo.root))
    assert shown.returncode == 0 and "step 3 (run r) awaiting review" in shown.stdout
    assert "main moved since this was proposed: approving replays it" in shown.stdout
    assert "+def sum_of(xs: list[float]) -> float:" in shown.stdout
    no = cli("reject", "3", "--repo", str(repo.root), "--reason", "sum_of duplicates the builtin", env=ENV)
    assert no.returncode == 0 and "step 3 rejected at gate review: sum_of duplicates the builtin" in no.stdout
    empty = cli("review", "--repo", str(repo.root))
    assert empty.returncode == 0 and "No candidates await review." in empty.stdout


def test_log_and_show_list_the_candidates_awaiting_review(repo) -> None:
    hold(repo, [add("mean_of")])
    hold(repo, [add("max_of")], before=0.0, after=0.0)  # rejected at validation
    log = cli("log", "--repo", str(repo.root))
    assert log.returncode == 0, log.stderr
    rows = [[c.strip() for c in line.split("│")] for line in log.stdout.splitlines() if line[:1].isdigit()]
    assert [(r[0], r[2]) for r in rows] == [("1", "awaiting review")]  # rejected ones need --all
    assert "see `fnforge review`" in log.stdout
    every = cli("--json", "log", "--all", "--repo", str(repo.root))
    lines = [json.loads(x) for x in every.stdout.splitlines()]
    assert [(x["step"], x["decision"]) for x in lines] == [(1, "awaiting review"), (2, "rejected")]
    shown = cli("show", "1", "--repo", str(repo.root))
    assert shown.returncode == 0, shown.stderr
    assert "decision: awaiting review (passed every gate)" in shown.stdout
    assert "fnforge approve 1` or `fnforge reject 1 --reason" in shown.stdout
    assert "+def mean_of(xs: list[float]) -> float:" in shown.stdout
    as_json = json.loads(cli("--json", "show", "1", "--repo", str(repo.root)).stdout.splitlines()[-1])
    assert as_json["state"] == "awaiting review" and as_json["diff"].startswith(
        "diff --git a/functions/mean_of.py"
    )


def test_cli_approve_refuses_a_candidate_that_no_longer_applies(repo) -> None:
    hold(repo, [add("mean_of")])
    hold(repo, [add("mean_of", body="return sum(xs) / len(xs)")])
    rv.approve(repo, 1)
    out = cli("approve", "2", "--repo", str(repo.root), env=ENV)
    assert out.returncode == 2
    assert (
        out.stderr.startswith("error: step 2 no longer applies cleanly on main")
        and "mean_of.py" in out.stderr
    )
    assert [w.step for w in rv.waiting(repo)] == [2]


@pytest.mark.parametrize("decided", [False, True])
def test_export_patch_applies_with_git_am_on_a_clone_of_the_base(repo, tmp_path, decided) -> None:
    repo.run_step([add("mean_of")], [StaticGate()], run="r")
    tests = (
        "from functions.sum_of import sum_of\n\n\ndef test_empty() -> None:\n    assert sum_of([]) == 0.0\n"
    )
    hold(
        repo, [add("sum_of", body="return float(sum(xs))", tests=tests), revise("mean_of", body="return 1.0")]
    )
    base = repo.head()
    if decided:
        rv.approve(repo, 2)
    out = cli("--json", "export", "--repo", str(repo.root), "--format", "patch", "--step", "2",
              "--out", str(tmp_path / "patches"))  # fmt: skip
    assert out.returncode == 0, out.stderr
    paths = json.loads(out.stdout.strip().splitlines()[-1])["paths"]
    assert len(paths) == 2 and all(p.endswith(".patch") for p in paths)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.root), str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "review", base)
    git(clone, "am", *paths)
    tip = "main^2" if decided else "fnforge/r/step-2"
    cand_tree = git(repo.root, "rev-parse", f"{tip}^{{tree}}").strip()
    assert git(clone, "rev-parse", "HEAD^{tree}").strip() == cand_tree  # exactly the candidate
    assert "Fnforge-Action: add sum_of" in git(clone, "log", "-1", "--format=%B", "HEAD^")
    assert (clone / "functions" / "sum_of.py").read_text() == module("sum_of", body="return float(sum(xs))")


def test_export_patch_needs_a_step_with_a_candidate(repo) -> None:
    repo.record_rejection("r", "optimizer", "no usable edits")
    out = cli("export", "--repo", str(repo.root), "--format", "patch", "--step", "1")
    assert out.returncode == 2 and "step 1 has no candidate to export" in out.stderr
    out = cli("export", "--repo", str(repo.root), "--format", "patch")
    assert out.returncode == 2 and "--step N goes with --format patch" in out.stderr
