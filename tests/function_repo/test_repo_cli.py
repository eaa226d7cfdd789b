"""The command line on real repositories: every command, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from repo_helpers import add, cli, git, write_actions


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A repository made by `fnforge init`, with one accepted and one rejected step (built once)."""
    tmp = tmp_path_factory.mktemp("cli")
    root = tmp / "agent-fns"
    proc = cli("init", str(root), "--task", "tabmwp")
    assert proc.returncode == 0, proc.stderr
    assert "Created function repository" in proc.stdout
    good = write_actions(tmp / "good.json", [add("mean_of"), add("max_of", body="return float(2 * len(xs))")])
    bad = write_actions(tmp / "bad.json", [add("sum_of", params="xs")])
    assert cli("apply", str(good), "--repo", str(root)).returncode == 0
    assert cli("apply", str(bad), "--repo", str(root)).returncode == 1
    return root


@pytest.fixture
def fns(template, tmp_path):
    """A private copy of the template repository (a git repo copies like any directory)."""
    return Path(shutil.copytree(template, tmp_path / "agent-fns", symlinks=True))


def test_init_writes_the_task_into_fnforge_toml(fns):
    assert 'name = "tabmwp"' in (fns / "fnforge.toml").read_text()


def test_apply_prints_the_verdict_and_exits_by_decision(fns, tmp_path):
    edits = write_actions(
        tmp_path / "e.json", [{**add("mean_of", body="return 0.0"), "action": "revise_function"}]
    )
    ok = cli("apply", str(edits), "--repo", str(fns), "--run", "hand", "--no-validate")
    assert ok.returncode == 0, ok.stderr
    assert "step 3 accepted" in ok.stdout and "validation did not run" in ok.stdout
    assert "pass static" in ok.stdout
    again = write_actions(tmp_path / "a.json", [add("mean_of")])
    rejected = cli("apply", str(again), "--repo", str(fns))
    assert rejected.returncode == 1
    assert "step 4 rejected at gate static" in rejected.stdout
    assert "mean_of already exists; use revise_function" in rejected.stdout


def test_apply_says_when_declared_arguments_disagree_with_the_code(fns, tmp_path):
    action = {**add("min_of", body="return float(-len(xs))"), "arguments": {"numbers": {"type": "array"}}}
    proc = cli("apply", str(write_actions(tmp_path / "e.json", [action])), "--repo", str(fns))
    assert proc.returncode == 0, proc.stderr
    assert "arguments disagree with the code's signature" in proc.stdout and "the code wins" in proc.stdout


def test_apply_with_json_output_is_machine_readable(fns, tmp_path):
    edits = write_actions(tmp_path / "e.json", [add("min_of", body="return float(-len(xs))")])
    proc = cli("--json", "apply", str(edits), "--repo", str(fns))
    assert proc.returncode == 0
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["accepted"] is True and out["step"] == 3 and out["verdicts"][0]["gate"] == "static"


def test_log_lists_accepted_steps_and_with_all_the_rejected_too(fns):
    plain = cli("log", "--repo", str(fns))
    assert plain.returncode == 0
    assert "add mean_of, add max_of" in plain.stdout and "rejected" not in plain.stdout
    full = cli("log", "--repo", str(fns), "--all")
    assert "rejected" in full.stdout and "static" in full.stdout and "add sum_of" in full.stdout
    rows = [
        json.loads(line) for line in cli("--json", "log", "--all", "--repo", str(fns)).stdout.splitlines()
    ]
    assert [(r["step"], r["decision"]) for r in rows] == [(1, "accepted"), (2, "rejected")]
    assert rows[1]["gate"] == "static"


def test_show_prints_actions_verdicts_and_the_diff(fns):
    proc = cli("show", "2", "--repo", str(fns))
    assert proc.returncode == 0
    assert "rejected at static" in proc.stdout and "FAIL static" in proc.stdout
    assert "+++ b/functions/sum_of.py" in proc.stdout
    accepted = cli("show", "1", "--repo", str(fns))
    assert "+++ b/functions/mean_of.py" in accepted.stdout and "pass static" in accepted.stdout


def test_diff_between_steps(fns):
    proc = cli("diff", "0", "1", "--repo", str(fns))
    assert proc.returncode == 0
    assert "+++ b/functions/max_of.py" in proc.stdout and "+++ b/functions/mean_of.py" in proc.stdout


def test_rollback_undoes_an_accepted_step_and_refuses_a_rejected_one(fns):
    refused = cli("rollback", "2", "--repo", str(fns))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: step 2 was rejected") and refused.stderr.count("\n") == 1
    proc = cli("rollback", "1", "--repo", str(fns))
    assert proc.returncode == 0, proc.stderr
    assert "step 3" in proc.stdout and "rolled back step 1" in proc.stdout
    assert not (fns / "functions" / "mean_of.py").exists()
    assert "Fnforge-Rollback: 1" in git(fns, "log", "-1", "--format=%B")


def test_export_writes_a_wheel_and_tools_json(fns, tmp_path):
    proc = cli("export", "--repo", str(fns), "--format", "tools-json", "--out", str(tmp_path / "tools.json"))
    assert proc.returncode == 0, proc.stderr
    tools = json.loads((tmp_path / "tools.json").read_text())
    assert [t["function"]["name"] for t in tools] == ["max_of", "mean_of"]
    proc = cli("export", "--repo", str(fns), "--out", str(tmp_path / "dist"), "--name", "my_tools")
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "dist").glob("my_tools-0.1+step1.g*-py3-none-any.whl"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["log", "--repo", "{tmp}/missing"], "no such directory"),
        (["log", "--repo", "{tmp}"], "not a fnforge repository"),
        (["apply", "{tmp}/nope.json", "--repo", "{fns}"], "nope.json: not found"),
        (["apply", "{tmp}/notjson.json", "--repo", "{fns}"], "not JSON (line 1 column 1"),
        (["apply", "{tmp}/noname.json", "--repo", "{fns}"], "action 0: field 'name' is missing"),
        (["show", "42", "--repo", "{fns}"], "step 42 does not exist"),
        (["rollback", "42", "--repo", "{fns}"], "step 42 does not exist"),
        (["diff", "1", "nosuchref", "--repo", "{fns}"], "'nosuchref' is not a step number, branch or commit"),
        (["export", "--repo", "{fns}", "--format", "zip"], "--format 'zip' is not known"),
        (["init", "{fns}"], "already a git repository"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_never_a_traceback(fns, tmp_path, args, expected):
    (tmp_path / "notjson.json").write_text("this is not json")
    (tmp_path / "noname.json").write_text(json.dumps([{"action": "add_function", "code": "return 1"}]))
    proc = cli(*[a.format(tmp=tmp_path, fns=fns) for a in args])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and expected in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_a_dirty_work_tree_is_refused(fns, tmp_path):
    (fns / "functions" / "mean_of.py").write_text("# my own edit\n")
    edits = write_actions(tmp_path / "e.json", [add("min_of", body="return float(-len(xs))")])
    proc = cli("apply", str(edits), "--repo", str(fns))
    assert proc.returncode == 2
    assert "uncommitted changes in functions/mean_of.py" in proc.stderr and proc.stderr.count("\n") == 1
    assert cli("rollback", "1", "--repo", str(fns)).returncode == 2


def test_log_reads_the_whole_history_with_one_git_process_and_the_waiting_candidates_with_one(fns, tmp_path):
    real = shutil.which("git")
    shim = tmp_path / "shim" / "git"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$1" >> "{tmp_path}/calls"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    env = {"PATH": f"{shim.parent}:{os.environ['PATH']}"}
    proc = cli("--json", "log", "--all", "--repo", str(fns), env=env)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 2
    # one `git log` for every step, one `for-each-ref` for candidates awaiting review (none here)
    assert (tmp_path / "calls").read_text().split() == ["log", "for-each-ref"]
