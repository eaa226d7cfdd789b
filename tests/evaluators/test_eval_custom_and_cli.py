"""A user's own judge (custom:module:function) and `fnforge check` end to end, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fnforge.evaluators import EvaluatorError, get_evaluator, score_outputs

FNFORGE = str(Path(sys.executable).parent / "fnforge")

JUDGE = '''
def judge(task, output):
    """Exact match, half credit for the right answer in lower case."""
    if task.inputs.get("question") == "boom":
        raise RuntimeError("judge bug")
    if output.strip() == task.reference:
        return True
    return 0.5 if output.strip().lower() == task.reference.lower() else 0.0
'''


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    (tmp_path / "mychecks").mkdir()
    (tmp_path / "mychecks" / "__init__.py").write_text("")
    (tmp_path / "mychecks" / "words.py").write_text(JUDGE)
    (tmp_path / "tasks.jsonl").write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "a",
                    "question": "Capital of France?",
                    "answer": "Paris",
                    "metadata": {"category": "geo"},
                },
                {
                    "id": "b",
                    "question": "Capital of Peru?",
                    "answer": "Lima",
                    "metadata": {"category": "geo"},
                },
                {"id": "c", "question": "boom", "answer": "x"},
            ]
        )
        + "\n"
    )
    return tmp_path


def test_custom_judge_scores_with_the_users_function(user_repo: Path) -> None:
    evaluator = get_evaluator("custom:mychecks.words:judge", repo_root=user_repo)
    tasks = evaluator.load(user_repo / "tasks.jsonl")
    assert tasks[0].inputs == {"question": "Capital of France?"} and tasks[0].metadata == {"category": "geo"}
    score = score_outputs(evaluator, tasks, {"a": "Paris", "b": "lima", "c": "x"})
    assert score.items["a"].correct and score.items["a"].score == 1.0
    assert score.items["b"].correct and score.items["b"].score == 0.5  # float scores pass at >= 0.5
    assert not score.items["c"].correct and "judge raised RuntimeError: judge bug" in score.items["c"].note
    assert score.by_category["category"]["geo"].n == 2


def test_each_repository_gets_its_own_judge_of_the_same_name(user_repo: Path, tmp_path_factory) -> None:
    other = tmp_path_factory.mktemp("other")
    (other / "mychecks").mkdir()
    (other / "mychecks" / "__init__.py").write_text("")
    (other / "mychecks" / "words.py").write_text("def judge(task, output):\n    return True\n")
    first = get_evaluator("custom:mychecks.words:judge", repo_root=user_repo)
    second = get_evaluator("custom:mychecks.words:judge", repo_root=other)
    [task] = first.load(user_repo / "tasks.jsonl")[:1]
    assert not first.judge(task, "Rome").correct
    assert second.judge(task, "Rome").correct


def test_custom_judge_that_is_not_there_is_a_clear_error(user_repo: Path) -> None:
    with pytest.raises(EvaluatorError, match="cannot import module 'nochecks'"):
        get_evaluator("custom:nochecks:judge", repo_root=user_repo)
    with pytest.raises(EvaluatorError, match="has no function 'grade'"):
        get_evaluator("custom:mychecks.words:grade", repo_root=user_repo)


def _check(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([FNFORGE, "check", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_check_prints_one_json_object_with_categories_and_items(tmp_path: Path, datasets_dir: Path) -> None:
    data = datasets_dir / "tabmwp" / "dev1k.json"
    problems = json.loads(data.read_text())
    preds = tmp_path / "preds.jsonl"
    ids = list(problems)[:10]
    preds.write_text(
        "".join(
            json.dumps({"id": i, "output": f"Answer: {problems[i]['answer'] if n % 2 == 0 else 'wrong'}"})
            + "\n"
            for n, i in enumerate(ids)
        )
    )
    run = _check("--task", "tabmwp", "--data", str(data), "--predictions", str(preds), "--per-item")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    n = len(problems)
    assert (report["n"], report["correct"], report["missing"]) == (n, 5, n - 10)
    assert report["accuracy"] == pytest.approx(5 / n, abs=1e-6)
    lo, hi = report["interval"]
    assert 0 < lo < 5 / n < hi < 0.5
    assert set(report["by_category"]) == {"ques_type", "grade", "ans_type"}
    first = report["items"][0]
    assert (
        first["id"] == ids[0]
        and first["correct"] is True
        and first["extracted"] == problems[ids[0]]["answer"]
    )
    assert report["items"][1]["correct"] is False


def test_check_with_a_custom_judge_from_the_current_directory(user_repo: Path) -> None:
    (user_repo / "preds.jsonl").write_text('{"id": "a", "output": "Paris"}\n{"id": "b", "output": "Quito"}\n')
    run = _check(
        "--task",
        "custom:mychecks.words:judge",
        "--data",
        "tasks.jsonl",
        "--predictions",
        "preds.jsonl",
        cwd=user_repo,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["n"], report["correct"], report["missing"]) == (3, 1, 1)
    assert "items" not in report


@pytest.mark.parametrize(
    ("task", "preds", "message"),
    [
        ("gsm8k", '{"id": 99999, "output": "1"}\n', "preds.jsonl:1: id '99999' is not a task in the data"),
        ("gsm8k", '{"id": 0, "output": "1"}\n{"id": 0, "output": "2"}\n', "preds.jsonl:2: id '0' again"),
        ("gsm8k", "not json\n", "preds.jsonl:1: not valid JSON"),
        ("gsm9k", "", "unknown task 'gsm9k'; use gsm8k, tabmwp, math or custom:module:function"),
    ],
)
def test_check_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, datasets_dir: Path, task: str, preds: str, message: str
) -> None:
    (tmp_path / "preds.jsonl").write_text(preds)
    run = _check(
        "--task",
        task,
        "--data",
        str(datasets_dir / "gsm8k" / "train.jsonl"),
        "--predictions",
        str(tmp_path / "preds.jsonl"),
    )
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr
