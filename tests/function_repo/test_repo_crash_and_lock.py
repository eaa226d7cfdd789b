"""Crash safety and the write lock, with real child processes and SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from repo_helpers import FNFORGE, add, cli, git, write_actions

from fnforge.function_repo import FunctionRepo, RepoLocked, StaticGate, parse_actions


def _ref_exists(root, ref) -> bool:
    return subprocess.run(["git", "rev-parse", "--verify", "--quiet", ref], cwd=root,
                          capture_output=True).returncode == 0  # fmt: skip


@pytest.mark.parametrize("pause_after", [1, 2])
def test_kill_9_between_commits_leaves_main_intact_and_the_next_command_recovers(repo, tmp_path, pause_after):
    root = repo.root
    start = repo.head()
    edits = write_actions(
        tmp_path / "edits.json", [add("mean_of"), add("max_of", body="return float(2 * len(xs))")]
    )
    child = subprocess.Popen(
        [FNFORGE, "apply", str(edits), "--repo", str(root)],
        env={**os.environ, "FNFORGE_TEST_PAUSE_AFTER_COMMIT": str(pause_after)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "paused after commit" in child.stderr.readline()
        assert _ref_exists(root, "refs/heads/fnforge/manual/step-1")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # the set's branch is at its last accepted state, the repository is consistent
    assert git(root, "rev-parse", "main").strip() == start
    fsck = subprocess.run(
        ["git", "fsck", "--full", "--no-progress"], cwd=root, capture_output=True, text=True
    )
    assert fsck.returncode == 0 and "error" not in fsck.stdout + fsck.stderr
    assert git(root, "status", "--porcelain").strip() == ""
    half = git(root, "rev-list", "--count", f"{start}..fnforge/manual/step-1").strip()
    assert half == str(pause_after)
    # the next command notices the half-made candidate, removes it and reuses the number
    proc = cli("apply", str(edits), "--repo", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "recovered: removed half-made candidate fnforge/manual/step-1" in proc.stdout
    reopened = FunctionRepo.open(root)
    assert [s.step for s in reopened.steps(include_rejected=True)] == [1]
    assert sorted(reopened.functions()) == ["max_of", "mean_of"]
    assert git(root, "branch", "--list", "fnforge/*").strip() == ""


def test_recover_finishes_a_work_tree_left_behind_a_recorded_merge(repo):
    repo.run_step([add("mean_of")], [StaticGate()])
    root = repo.root
    # what a kill between `update-ref main` and the work-tree update leaves behind
    git(root, "read-tree", "-m", "-u", "main", "main^1")
    assert not (root / "functions" / "mean_of.py").exists()
    done = repo.recover()
    assert any("brought the work tree up" in d for d in done)
    assert (root / "functions" / "mean_of.py").exists()
    assert git(root, "status", "--porcelain").strip() == ""


def test_recover_removes_a_leftover_branch_of_a_decided_step(repo):
    repo.run_step([add("mean_of")], [StaticGate()])
    git(repo.root, "update-ref", "refs/heads/fnforge/manual/step-1", "main^2")
    assert repo.recover() == ["removed leftover branch fnforge/manual/step-1 (step 1 was already decided)"]
    assert repo.run_step([add("g")], [StaticGate()]).step == 2


def test_a_second_writer_in_another_process_gets_a_clear_lock_error(repo, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom fnforge.function_repo import FunctionRepo\n"
         "r = FunctionRepo.open(sys.argv[1])\n"
         "with r.lock():\n    print('locked', flush=True)\n    time.sleep(600)\n",
         str(repo.root)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        edits = write_actions(tmp_path / "edits.json", [add("mean_of")])
        proc = cli("apply", str(edits), "--repo", str(repo.root))
        assert proc.returncode == 2
        assert proc.stderr.strip() == (
            f"error: {repo.root} is being written by pid {holder.pid}; "
            "wait or remove .git/fnforge.lock if that process is gone"
        )
        assert proc.stderr.count("\n") == 1
        with pytest.raises(RepoLocked):
            with FunctionRepo.open(repo.root).lock():
                pass
        assert repo.steps(include_rejected=True) == []
    finally:
        holder.kill()
        holder.wait()
    proc = cli("apply", str(edits), "--repo", str(repo.root))
    assert proc.returncode == 0, proc.stderr


def test_the_lock_is_reentrant_within_one_repository_object(repo):
    with repo.lock():
        with repo.lock():
            res = repo.run_step([add("f")], [StaticGate()])
    assert res.accepted


WRITES = {"read-tree", "hash-object", "update-index", "write-tree", "commit-tree", "update-ref", "notes"}


def _git_shim(tmp_path, real_git: str):
    """A `git` first on PATH that logs each call and, at call KILL_AT, SIGKILLs its caller."""
    shim = tmp_path / "shim" / "git"
    shim.parent.mkdir()
    shim.write_text(
        "#!/bin/sh\n"
        'n=$(( $(cat "$SHIM_COUNT") + 1 )); echo $n > "$SHIM_COUNT"; echo "$1" >> "$SHIM_LOG"\n'
        'if [ "$n" = "$KILL_AT" ]; then kill -9 $PPID; exit 1; fi\n'
        f'exec "{real_git}" "$@"\n'
    )
    shim.chmod(0o755)
    return shim.parent


def test_kill_9_before_every_write_of_a_step_never_corrupts_the_set(repo, tmp_path):
    """Kill a child running a step just before each git write it makes, one run per write.

    The child runs `FunctionRepo.run_step` with the static gate (the CLI's sandbox gates
    would only add minutes here; the real `fnforge apply` is killed in the test above).
    """
    real_git = shutil.which("git")
    shim_dir = _git_shim(tmp_path, real_git)
    edits = write_actions(
        tmp_path / "edits.json", [add("mean_of"), add("max_of", body="return float(2 * len(xs))")]
    )
    template, start = repo.root, repo.head()
    child = (
        "import json, sys\n"
        "from fnforge.function_repo import FunctionRepo, StaticGate, load_actions\n"
        "res = FunctionRepo.open(sys.argv[1]).run_step(load_actions(sys.argv[2]), [StaticGate()])\n"
        "print(res.decision)\n"
    )

    def run(workdir, kill_at):
        counter, log = workdir / "count", workdir / "log"
        counter.write_text("0")
        log.write_text("")
        env = {**os.environ, "PATH": f"{shim_dir}{os.pathsep}{os.environ['PATH']}", "SHIM_COUNT": str(counter),
               "SHIM_LOG": str(log), "KILL_AT": str(kill_at)}  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", child, str(workdir / "fns"), str(edits)], env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        return proc, log.read_text().split()

    dry = tmp_path / "dry"
    dry.mkdir()
    shutil.copytree(template, dry / "fns", symlinks=True)
    proc, calls = run(dry, 0)
    assert proc.returncode == 0, proc.stderr
    kill_points = [i + 1 for i, cmd in enumerate(calls) if cmd in WRITES]
    assert len(kill_points) >= 12
    outcomes = set()
    for k in kill_points:
        work = tmp_path / f"kill-{k}"
        work.mkdir()
        root = Path(shutil.copytree(template, work / "fns", symlinks=True))
        proc, _ = run(work, k)
        assert proc.returncode == -signal.SIGKILL, (k, proc.stdout, proc.stderr)
        fsck = subprocess.run([real_git, "fsck", "--full", "--no-progress"], cwd=root, capture_output=True,
                              text=True)  # fmt: skip
        assert fsck.returncode == 0 and "error" not in fsck.stdout + fsck.stderr, k
        fresh = FunctionRepo.open(root)
        head = fresh.head()
        assert head == start or [s.step for s in fresh.steps()] == [1], k  # never a half-made set
        fresh.recover()
        assert fresh.candidate_branches() == [], k
        assert git(root, "status", "--porcelain").strip() == "", k
        assert sorted(fresh.functions()) == sorted(p.stem for p in (root / "functions").glob("*.py")), k
        if head == start:
            assert fresh.run_step(parse_actions(json.loads(edits.read_text())), [StaticGate()]).step == 1
        assert sorted(fresh.functions()) == ["max_of", "mean_of"], k
        assert [s.step for s in fresh.steps(include_rejected=True)] == [1], k
        outcomes.add(head == start)
        fresh.close()
    assert outcomes == {True, False}  # some kills came before the merge, some after
