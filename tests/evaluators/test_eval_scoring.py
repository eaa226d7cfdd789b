"""Scores: accuracy with a Wilson interval, missing outputs, categories, and which tasks flipped."""

from __future__ import annotations

import json

import pytest

from fnforge.evaluators import Score, Task, get_evaluator, score_outputs, wilson_interval

TABMWP = get_evaluator("tabmwp")


def _tasks() -> list[Task]:
    def task(i: str, ref: str, qtype: str, grade: int) -> Task:
        return Task(
            id=i,
            inputs={"question": "?", "choices": [], "unit": ""},
            reference=ref,
            metadata={"ques_type": qtype, "grade": grade, "ans_type": "integer_number"},
        )

    return [
        task("a", "1", "free_text", 3),
        task("b", "2", "free_text", 3),
        task("c", "3", "multi", 4),
        task("d", "4", "multi", 4),
    ]


def test_wilson_interval_matches_the_textbook_values() -> None:
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)


def test_missing_outputs_count_as_wrong_and_are_marked() -> None:
    score = score_outputs(TABMWP, _tasks(), {"a": "Answer: 1", "b": "Answer: 5", "c": None})
    assert (score.n, score.correct, score.missing) == (4, 1, 2)
    assert score.accuracy == 0.25
    assert score.items["c"].missing and score.items["d"].missing and not score.items["b"].missing
    assert score.items["b"].extracted == "5" and score.items["b"].reference == "2"
    lo, hi = score.interval
    assert lo < 0.25 < hi


def test_scores_break_down_by_category() -> None:
    score = score_outputs(TABMWP, _tasks(), {"a": "1", "b": "2", "c": "3", "d": "0"})
    assert score.by_category["ques_type"]["free_text"].accuracy == 1.0
    assert score.by_category["ques_type"]["multi"].correct == 1
    assert score.by_category["grade"]["4"].n == 2


def test_flipped_names_the_tasks_fixed_and_broken_relative_to_another_score() -> None:
    before = score_outputs(TABMWP, _tasks(), {"a": "1", "b": "0", "c": "3", "d": "0"})
    after = score_outputs(TABMWP, _tasks(), {"a": "1", "b": "2", "c": "0", "d": "0"})
    assert after.flipped(before) == {"fixed": ["b"], "broken": ["c"]}
    assert before.flipped(after) == {"fixed": ["c"], "broken": ["b"]}


def test_a_score_round_trips_through_json() -> None:
    score = score_outputs(TABMWP, _tasks(), {"a": "1"})
    data = json.loads(json.dumps(score.to_dict()))
    assert data["n"] == 4 and data["items"]["a"]["correct"] is True
    assert Score.model_validate(data) == score
    assert "items" not in score.to_dict(per_item=False)
