"""Every MATH judgement is bounded: huge or hostile outputs and references get a verdict (or a
clear error) within the per-item time limit, in this process as well as in the worker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fnforge.evaluators import EvaluatorError, Task
from fnforge.evaluators.math_problems import MathEvaluator

LIMIT_S = 4.0
SLACK_S = 3.0  # process start-up, JSON and a loaded 2-core machine, on top of the limit


def _prose_reference(size: int) -> str:
    """A long prose solution with several `$...$` spans and no `\\boxed{}`, ending on its answer."""
    words = "We now consider the next case carefully and note that nothing changes here. "
    parts, n = [], 0
    while sum(map(len, parts)) < size:
        n += 1
        parts.append(words * 40 + f"Here $x_{{{n}}} = {n} + y$ holds. ")
    return "".join(parts) + "Therefore the answer is $42$."


@pytest.fixture(scope="module")
def evaluator() -> MathEvaluator:
    evaluator = MathEvaluator(timeout_s=LIMIT_S)
    evaluator.judge(Task(id="warm", inputs={}, reference="x^2"), "\\boxed{x \\cdot x}")  # workers started
    return evaluator


def test_a_1mb_output_and_a_100kb_prose_reference_get_a_verdict_within_the_limit(
    evaluator: MathEvaluator, tmp_path: Path
) -> None:
    data = tmp_path / "tasks.jsonl"
    data.write_text(json.dumps({"problem": "?", "answer": _prose_reference(100_000)}) + "\n")
    start = time.monotonic()
    (task,) = evaluator.load(data)
    loaded = time.monotonic() - start
    assert len(str(task.reference)) > 100_000 and loaded < LIMIT_S + SLACK_S

    right = "Let me think. " * 75_000 + "So the answer is \\boxed{42}."
    wrong = "Let me think. " * 75_000 + "So the answer is \\boxed{41}."
    assert len(right) > 1_000_000
    for output, expected in ((right, True), (wrong, False)):
        start = time.monotonic()
        result = evaluator.judge(task, output)
        assert time.monotonic() - start < LIMIT_S + SLACK_S
        assert result.correct is expected, result


@pytest.mark.parametrize(
    "output",
    [
        "\\(" * 500_000,
        "\\[" * 500_000,
        "$a" * 500_000,
        "\\boxed{" * 140_000,
        "{" * 1_000_000,
        "The answer is " * 70_000,
        "#### " * 200_000,
        "\\frac{1}{" * 100_000 + "}" * 100_000,
        "x^{" * 300_000 + "2" + "}" * 300_000,
    ],
    ids=["parens", "brackets", "dollars", "open-boxes", "braces", "cues", "hashes", "fracs", "powers"],
)
def test_a_hostile_1mb_output_is_judged_wrong_within_the_limit(evaluator: MathEvaluator, output: str) -> None:
    task = Task(id="t", inputs={}, reference="\\frac{1}{2}")
    start = time.monotonic()
    result = evaluator.judge(task, output)
    assert time.monotonic() - start < LIMIT_S + SLACK_S
    assert not result.correct
    # the pool still answers, with Math-Verify (not a shortcut), and is warm for the next case
    assert evaluator.judge(Task(id="u", inputs={}, reference="x^2"), "\\boxed{x \\cdot x}").correct


def test_an_output_that_cannot_be_judged_in_time_is_wrong_with_reason_timeout() -> None:
    evaluator = MathEvaluator(timeout_s=1.0)
    task = Task(id="t", inputs={}, reference="x + 1")
    evaluator.judge(task, "\\boxed{x + 1 + 0 y}")  # the worker has started
    result = evaluator.judge(task, "\\boxed{9^{9^{9^{9^{9}}}} x}")
    assert (result.correct, result.note) == (False, "timeout")


def test_a_reference_that_cannot_be_read_is_an_error_naming_its_line(tmp_path: Path) -> None:
    data = tmp_path / "tasks.jsonl"
    prose = "This long explanation never states a value, it only talks about the method. " * 400
    data.write_text(
        json.dumps({"problem": "?", "answer": "\\frac{1}{2}"})
        + "\n"
        + json.dumps({"problem": "?", "answer": prose})
        + "\n"
    )
    start = time.monotonic()
    with pytest.raises(EvaluatorError, match=r"tasks\.jsonl:2: Math-Verify cannot read the reference answer"):
        MathEvaluator(timeout_s=LIMIT_S).load(data)
    assert time.monotonic() - start < LIMIT_S + SLACK_S + 30  # a fresh pool's import of sympy included
