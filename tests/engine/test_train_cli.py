"""`fnforge train` / `fnforge eval`: a user's mistakes are one clear line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gsm8k_world as world
import pytest

from fnforge.function_repo import FunctionRepo, StaticGate, parse_actions

FNFORGE = str(Path(sys.executable).parent / "fnforge")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([FNFORGE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def repo(tmp_path: Path, datasets_dir: Path) -> FunctionRepo:
    records = world.pick_records(datasets_dir, 4)
    repo = FunctionRepo.init(tmp_path / "fns", config_text=world.config_text("http://127.0.0.1:9/v1"))
    world.write_split(repo.root / "data" / "train.jsonl", records[:2])
    world.write_split(repo.root / "data" / "val.jsonl", records[2:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "data")
    return repo


def one_line_error(p: subprocess.CompletedProcess, *fragments: str) -> None:
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and p.stderr.startswith("error: ")
    flat = " ".join(p.stderr.split())
    for f in fragments:
        assert f in flat, flat


def test_train_on_a_directory_that_is_not_a_function_repo(tmp_path: Path) -> None:
    one_line_error(run("train", "--repo", str(tmp_path)), "not a fnforge repository", "fnforge init")


def test_resume_with_no_step_recorded_starts_the_run_and_says_so(repo: FunctionRepo) -> None:
    p = run("train", "--repo", str(repo.root), "--resume")
    assert "nothing to resume" not in p.stderr + p.stdout
    assert "no step of run train-1 recorded yet: starting it" in p.stderr + p.stdout
    # and then it really starts: here it meets the unreachable endpoint, a fix for the user
    one_line_error(p, "LLM endpoint http://127.0.0.1:9/v1 did not answer")


def test_a_run_name_that_exists_needs_resume_or_a_new_name(repo: FunctionRepo) -> None:
    add = [{"action": "add_function", "name": "calculate", "description": "c", "code": world.CALCULATE}]
    repo.run_step(parse_actions(add), [StaticGate()], run="r1")
    one_line_error(
        run("train", "--repo", str(repo.root), "--run", "r1"), "run 'r1' exists", "--resume", "--run NAME"
    )


def test_a_missing_data_file_names_the_setting_and_the_fix(repo: FunctionRepo) -> None:
    (repo.root / "data" / "train.jsonl").unlink()
    one_line_error(
        run("train", "--repo", str(repo.root), "--run", "x"),
        "[data] train = 'data/train.jsonl'",
        "not found",
        "put the train tasks there",
    )


def test_an_unreachable_model_endpoint_is_one_line_and_records_nothing(repo: FunctionRepo) -> None:
    p = run("train", "--repo", str(repo.root), "--run", "x")
    one_line_error(p, "LLM endpoint http://127.0.0.1:9/v1 did not answer", "check [llm] base_url")
    assert repo.steps(include_rejected=True) == [] and repo.candidate_branches() == []


def test_eval_rejects_an_unknown_split_and_an_unknown_step(repo: FunctionRepo) -> None:
    one_line_error(
        run("eval", "--repo", str(repo.root), "--split", "tset"), "--split 'tset'", "val, train or test"
    )
    one_line_error(run("eval", "--repo", str(repo.root), "--split", "test"), "no test split: set [data] test")
    one_line_error(run("eval", "--repo", str(repo.root), "--ref", "7"), "step 7 does not exist")


def test_uncommitted_edits_in_functions_stop_training_before_any_work(repo: FunctionRepo) -> None:
    (repo.root / "functions" / "mine.py").write_text("def mine() -> int:\n    return 1\n")
    one_line_error(
        run("train", "--repo", str(repo.root), "--run", "x"), "uncommitted changes in functions/mine.py"
    )
    assert repo.steps(include_rejected=True) == []


def test_a_second_writer_is_refused_while_the_repository_is_locked(repo: FunctionRepo) -> None:
    with repo.lock():
        one_line_error(run("train", "--repo", str(repo.root), "--run", "x"), "is being written by pid")
