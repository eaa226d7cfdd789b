"""Data and predictions files: the formats datasets come in, ids, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fnforge.evaluators import EvaluatorError, get_evaluator, load_predictions


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_ids_are_own_id_else_line_number(tmp_path: Path) -> None:
    gsm = get_evaluator("gsm8k")
    plain = _write(
        tmp_path / "plain.jsonl",
        [{"question": "q1", "answer": "#### 1,080"}, "", {"question": "q2", "answer": "7"}],
    )
    tasks = gsm.load(plain)
    assert [(t.id, t.reference) for t in tasks] == [("0", "1080"), ("2", "7")]
    own = _write(
        tmp_path / "own.jsonl",
        [{"idx": 10, "question": "q", "answer": "1"}, {"pid": "p7", "question": "q", "answer": "2"}],
    )
    assert [t.id for t in gsm.load(own)] == ["10", "p7"]


def test_json_list_and_object_keyed_by_id(tmp_path: Path) -> None:
    tab = get_evaluator("tabmwp")
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"33": {"question": "q", "answer": "yes", "choices": ["yes", "no"]}}))
    [task] = tab.load(keyed)
    assert task.id == "33" and task.inputs["choices"] == ["yes", "no"] and task.inputs["unit"] == ""
    listed = tmp_path / "list.json"
    listed.write_text(
        json.dumps([{"question": "q", "answer": "3"}, {"id": "x", "question": "q", "answer": "4"}])
    )
    assert [t.id for t in tab.load(listed)] == ["0", "x"]


def test_a_single_task_json_file_is_one_task_named_by_the_file(tmp_path: Path) -> None:
    path = tmp_path / "1234.json"
    path.write_text(
        json.dumps({"problem": "p", "level": "Level 2", "type": "Algebra", "solution": "\\boxed{7}"})
    )
    [task] = get_evaluator("math").load(path)
    assert (task.id, task.reference, task.metadata["level"]) == ("1234", "7", "Level 2")


def test_a_directory_of_task_files_is_read_with_ids_from_their_paths(tmp_path: Path) -> None:
    for sub, n, answer in [("algebra", 1, "2"), ("algebra", 7, "3"), ("geometry", 1, "\\pi")]:
        (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / sub / f"{n}.json").write_text(
            json.dumps({"problem": "p", "solution": f"\\boxed{{{answer}}}"})
        )
    tasks = get_evaluator("math").load(tmp_path)
    assert [(t.id, t.reference) for t in tasks] == [
        ("algebra/1", "2"),
        ("algebra/7", "3"),
        ("geometry/1", "\\pi"),
    ]
    with pytest.raises(EvaluatorError, match="no .json, .jsonl or .parquet task files"):
        get_evaluator("math").load(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def test_math_reference_from_answer_field_or_last_box(tmp_path: Path) -> None:
    math = get_evaluator("math")
    path = _write(
        tmp_path / "m.jsonl",
        [
            {
                "problem": "p",
                "solution": "so \\boxed{1} and \\boxed{\\frac{1}{2}}.",
                "level": "Level 5",
                "type": "Algebra",
            },
            {"problem": "p", "solution": "no box", "answer": "\\sqrt{2}"},
            {"question": "plain", "answer": "3"},
        ],
    )
    tasks = math.load(path)
    assert [t.reference for t in tasks] == ["\\frac{1}{2}", "\\sqrt{2}", "3"]
    assert tasks[0].metadata == {"type": "Algebra", "level": "Level 5"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"question": "q", "answer": "1"}', "{not json"], "d.jsonl:2: not valid JSON"),
        ([{"question": "q"}], "d.jsonl:1: missing field 'answer'"),
        (
            [{"id": 1, "question": "q", "answer": "1"}, {"id": 1, "question": "q", "answer": "2"}],
            "'1' already used",
        ),
        ([{"question": "q", "answer": "seven"}], "is not a number"),
    ],
)
def test_bad_data_files_name_the_line(tmp_path: Path, lines: list, message: str) -> None:
    with pytest.raises(EvaluatorError, match=message):
        get_evaluator("gsm8k").load(_write(tmp_path / "d.jsonl", lines))
    with pytest.raises(EvaluatorError, match="not found"):
        get_evaluator("gsm8k").load(tmp_path / "nope.jsonl")


@pytest.fixture
def tasks(tmp_path: Path):
    data = _write(tmp_path / "data.jsonl", [{"question": f"q{i}", "answer": str(i)} for i in range(3)])
    return get_evaluator("gsm8k").load(data)


def test_predictions_by_id_with_integer_ids_and_null_outputs(tmp_path: Path, tasks) -> None:
    preds = _write(tmp_path / "p.jsonl", [{"id": 0, "output": "#### 0"}, {"id": "2", "output": None}, ""])
    assert load_predictions(preds, tasks) == {"0": "#### 0"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": 0, "output": "x"}', '{"id": 1, "output": '], "p.jsonl:2: not valid JSON"),
        ([{"id": 0, "output": "x"}, {"id": 7, "output": "y"}], "p.jsonl:2: id '7' is not a task"),
        (
            [{"id": 0, "output": "x"}, {"id": "0", "output": "y"}],
            "p.jsonl:2: id '0' again \\(first at line 1\\)",
        ),
        ([{"id": 0}], 'p.jsonl:1: expected an object with "id" and "output"'),
        ([{"id": 0, "output": 5}], 'p.jsonl:1: "output" must be a string'),
    ],
)
def test_bad_predictions_name_the_line(tmp_path: Path, tasks, lines: list, message: str) -> None:
    with pytest.raises(EvaluatorError, match=message):
        load_predictions(_write(tmp_path / "p.jsonl", lines), tasks)


def test_unknown_task_names_the_valid_ones() -> None:
    with pytest.raises(
        EvaluatorError, match="unknown task 'gsm9k'; use gsm8k, tabmwp, math or custom:module:function"
    ):
        get_evaluator("gsm9k")
    with pytest.raises(EvaluatorError, match="custom:module:function"):
        get_evaluator("custom:onlymodule")
