"""MATH answers: the same value written differently is equal; a different value is not;
a hostile expression costs at most the time limit."""

from __future__ import annotations

import time

import pytest

from fnforge.evaluators import Task
from fnforge.evaluators.math_problems import MathEvaluator

MATH = MathEvaluator(timeout_s=5.0)


def judge(pred: str, ref: str) -> bool:
    return MATH.judge(Task(id="t", inputs={"question": "?"}, reference=ref), f"\\boxed{{{pred}}}").correct


EQUAL = [
    # fractions
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("\\frac12", "\\frac{1}{2}"),
    ("1/2", "\\frac{1}{2}"),
    ("0.5", "\\frac{1}{2}"),
    ("-\\frac{3}{4}", "\\frac{-3}{4}"),
    # roots and pi
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
    ("\\sqrt2", "\\sqrt{2}"),
    ("2\\sqrt{3}", "\\sqrt{12}"),
    ("\\frac{\\pi}{2}", "\\pi/2"),
    ("2 \\pi", "2\\pi"),
    # degrees, percent, text wrappers, units
    ("41.8^\\circ", "41.8"),
    ("41.8^{\\circ}", "41.8"),
    ("0.125", "12.5\\%"),
    ("\\text{(B)}", "B"),
    ("5 \\text{ cm}", "5"),
    ("1.6 \\mathrm{~cm}", "1.6"),
    ("300 \\mathrm{~km} / \\mathrm{s}", "300"),
    # intervals, tuples, sets, lists
    ("(1, 2]", "(1,2]"),
    ("[-\\infty, 3)", "[-\\infty,3)"),
    ("(3, -1)", "(3,-1)"),
    ("\\{2, 1\\}", "\\{1, 2\\}"),
    ("3, 1, 2", "1,2,3"),
    ("\\left( \\frac{1}{2}, 3 \\right)", "(0.5, 3)"),
    # x = 3 vs 3
    ("x = 3", "3"),
    ("3", "x=3"),
    # scientific notation and precision
    ("3.0e8", "3e8"),
    ("1{,}000", "1000"),
    # symbolic
    ("x^2 + 2x + 1", "(x+1)^2"),
    ("\\frac{e^{t}}{3}", "e^{t} / 3"),
    ("\\frac{1}{2}(e^{at} + e^{-at})", "\\cosh(at)"),
    ("1 + i\\sqrt{3}", "1+\\sqrt{3} i"),
    ("\\frac{d x}{d t} - k x + a = 0", "\\frac{d x}{d t}=k x-a"),
    ("y = 2x + 3", "2y - 4x = 6"),
    ("x^2 - 1", "(x-1)(x+1)"),
    ("\\frac{-1 + \\sqrt{5}}{2}", "\\frac{\\sqrt{5}-1}{2}"),
    ("4\\sqrt[3]{2}", "\\sqrt[3]{128}"),
    ("1024", "2^{10}"),
    # the forms of the competition MATH set: money, separators, choices, matrices, unions, words
    ("18.90", "\\$18.90"),
    ("\\$5.00", "5"),
    ("5\\text{ dollars}", "\\$5"),
    ("1000", "1,\\!000"),
    ("C", "\\text{(C)}"),
    ("(C)", "\\text{(C)}"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    ("(-\\infty, 3) \\cup (5, \\infty)", "(-\\infty,3)\\cup(5,\\infty)"),
    ("[2, 5)", "x \\in [2,5)"),
    ("devon", "\\text{Devon}"),
    ("6", "6\\text{ inches}"),
    ("\\left(3, \\frac{\\pi}{2}\\right)", "(3,\\frac{\\pi}{2})"),
    ("3 - 2i", "3-2i"),
]

DIFFERENT = [
    ("\\frac{1}{3}", "\\frac{1}{2}"),
    ("0.3", "\\frac{1}{3}"),
    ("\\sqrt{3}", "\\sqrt{2}"),
    ("\\pi", "3.15"),
    ("3.1", "\\pi"),
    ("2", "2\\pi"),
    ("42.8", "41.8"),
    ("5.5e33", "4.5e33"),
    ("4.5e34", "4.5e33"),
    ("4101", "4100"),
    ("101", "100"),
    ("-7", "7"),
    ("(1, 2)", "(1, 2]"),
    ("(2, 1)", "(1, 2)"),
    ("\\{1, 2, 3\\}", "\\{1, 2\\}"),
    ("x = 4", "3"),
    ("(x+1)^3", "(x+1)^2"),
    ("\\frac{2}{4-\\omega^{2}}", "\\frac{1}{4-\\omega^{2}}"),
    ("1.2", "12\\%"),
    ("y = 2x + 4", "2y - 4x = 6"),
    ("y''+2y=0", "y^{\\prime \\prime}+y=0"),
    ("y' + 2y = 0", "y^{\\prime \\prime}+2y=0"),
    ("0.004^{\\prime \\prime}", "0.003"),
    ("x^2 + 1", "(x-1)(x+1)"),
    ("1025", "2^{10}"),
    ("(-\\infty, 3) \\cup (6, \\infty)", "(-\\infty,3)\\cup(5,\\infty)"),
    ("\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    ("\\text{(B)}", "\\text{(C)}"),
    ("\\text{Devin}", "\\text{Devon}"),
    ("2, 3", "-3, 2"),
    ("[2, 5]", "x \\in [2,5)"),
    ("3+2i", "3-2i"),
    ("\\frac{1}{2}", "\\frac{1}{2}, 3"),
]


# Math-Verify's verdicts where fnforge used to give its own (issue 24: the score is
# Math-Verify's): decimals at the dataset's precision, `4.5e33` (Math-Verify reads e as
# Euler's number), primes, an equation Math-Verify takes for its negation, a negated tuple.
MATH_VERIFY_VERDICTS = [
    ("0.333", "\\frac{1}{3}", False),
    ("\\pi", "3.14159", False),
    ("3.1416", "\\pi", False),
    ("0.707", "\\frac{\\sqrt{2}}{2}", False),
    ("12.5\\%", "12.5", False),
    ("4.5 \\times 10^{33}", "4.5e33", False),
    ("4.48 \\times 10^{33}", "4.5e33", False),
    ("1.62", "1.6", False),
    ("1.6", "1.6", True),
    ("1.60", "1.6", True),
    ("x' = 2x", "x^{\\prime}=2x", False),
    ("y''+y=0", "y^{\\prime \\prime}+y=0", False),
    ("0.003^{\\prime \\prime}", "0.003", False),
    ("\\frac{d x}{d t}=-(k x-a)", "\\frac{d x}{d t}=k x-a", True),
    ("-(\\left( -\\frac{1}{2}, \\frac{3}{2} \\right))", "\\left( -\\frac{1}{2}, \\frac{3}{2} \\right)", True),
]


@pytest.mark.parametrize(("pred", "ref", "verdict"), MATH_VERIFY_VERDICTS)
def test_math_verify_verdicts_stand_where_fnforge_used_to_differ(pred: str, ref: str, verdict: bool) -> None:
    assert judge(pred, ref) is verdict


@pytest.mark.parametrize(("pred", "ref"), EQUAL)
def test_equal_answers_are_judged_correct(pred: str, ref: str) -> None:
    assert judge(pred, ref)


@pytest.mark.parametrize(("pred", "ref"), DIFFERENT)
def test_different_answers_are_judged_wrong(pred: str, ref: str) -> None:
    assert not judge(pred, ref)


def test_a_hostile_expression_returns_within_the_time_limit_and_the_next_check_works() -> None:
    evaluator = MathEvaluator(timeout_s=1.5)
    task = Task(id="t", inputs={"question": "?"}, reference="x + 1")
    evaluator.judge(task, "\\boxed{x + 1 + 0 y}")  # the worker has started
    start = time.monotonic()
    result = evaluator.judge(task, "\\boxed{9^{9^{9^{9^{9}}}} x}")
    elapsed = time.monotonic() - start
    assert not result.correct
    assert result.note == "timeout"
    assert elapsed < 1.5 + 2.0
    assert evaluator.judge(task, "\\boxed{1 + x}").correct  # a fresh worker answers


def test_an_enormous_exponent_is_not_computed_on_the_host() -> None:
    start = time.monotonic()
    assert not judge("1e999999999", "1")
    assert not judge("10^{10^{10}}", "7")
    assert time.monotonic() - start < 5.0 * 2 + 2.0


# References in the forms of the competition MATH set (Hendrycks et al.), which the Minerva
# slice in tests/data does not cover: right in the styles the MATH instruction asks for (a box,
# a `$...$` span), every perturbation wrong. (Prose styles are judged as Math-Verify reads
# prose, which the differential test checks.)
COMPETITION_REFERENCES = [
    "\\frac{1}{4}",
    "5",
    "-\\frac{1}{2}",
    "\\text{(D)}",
    "\\sqrt{2}",
    "2\\sqrt{3}",
    "\\frac{\\sqrt{3}}{2}",
    "3\\pi",
    "(2,-1)",
    "[-2,7]",
    "(-\\infty,-2)\\cup(3,\\infty)",
    "x^2+7x+10",
    "\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}",
    "1,2,3",
    "\\$1.25",
    "10\\%",
    "45^\\circ",
    "0.25",
    "1{,}000",
    "6\\text{ inches}",
    "\\text{Tuesday}",
    "2-3i",
    "\\frac{9}{4}\\pi",
    "y=2x+3",
    "-3,2",
    "12\\sqrt{5}",
    "\\dfrac{7}{12}",
    "4,6,14,15",
    "x \\in [-2,7]",
    "(0,\\frac{1}{2}]",
    "\\frac{1}{3}\\sqrt{3}",
    "e^2",
    "2^{10}",
    "\\text{odd}",
    "-\\sqrt{3}",
    "\\frac{2\\sqrt{2}}{3}",
    "x=5",
    "\\left( -\\frac{1}{2}, \\frac{3}{2} \\right)",
    "1-\\sqrt{2}",
    "2x^3-5x+1",
    "100\\pi",
    "\\frac{1}{x+1}",
    "8\\sqrt{2}\\text{ cm}",
    "\\$12{,}000",
    "-7",
    "1.5",
    "\\{1, 3\\}",
    "a^2+b^2",
    "\\frac{n(n+1)}{2}",
    "0",
]


@pytest.mark.parametrize("reference", COMPETITION_REFERENCES)
def test_competition_math_forms_right_when_marked_and_wrong_when_perturbed(reference: str) -> None:
    from answer_styles import latex_perturbations, styles

    task = Task(id="t", inputs={"question": "?"}, reference=reference)
    for style in ("boxed", "dollar_math"):
        assert MATH.judge(task, styles(reference, latex=True)[style]).correct, style
    for wrong in latex_perturbations(reference):
        if wrong.startswith("-(\\left("):
            continue  # Math-Verify drops the minus of a negated tuple: see MATH_VERIFY_VERDICTS
        for output in (f"The answer is ${wrong}$.", f"\\boxed{{{wrong}}}"):
            assert not MATH.judge(task, output).correct, output


# The forms real models write that fnforge's own checker used to miss (from Math-Verify's
# regression cases): Math-Verify reads them out of the whole output.
MODEL_OUTPUTS = [
    ("1,-2", "So the integers are \\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]", True),
    ("1,2", "$\\boxed{1},\\boxed{2}$", True),
    ("1,3", "The roots are $\\boxed{1}$ and $\\boxed{2}$.", False),
    ("-2 \\le x \\le 7", "The solution is $x \\in [-2,7]$.", True),
    (
        "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
        "It is $\\left[\\begin{array}{cc}1 & 2 \\\\3 & 4\\end{array}\\right]$",
        True,
    ),
    (
        "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
        "The matrix is $\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}$",
        False,
    ),
    (
        "\\left( 3, \\frac{\\pi}{2} \\right)",
        "The polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
        True,
    ),
    ("125", "The distance is $\\boxed{125\\textnormal{ miles}}.$", True),
    ("11", "So $x\\approx11$.", True),
    ("[0,1)", "Final Answer: The final answer is $(0, 1)$. I hope it is correct.", False),
]


@pytest.mark.parametrize(("reference", "output", "right"), MODEL_OUTPUTS)
def test_answers_as_models_write_them_are_judged_as_math_verify_does(
    reference: str, output: str, right: bool
) -> None:
    task = Task(id="t", inputs={"question": "?"}, reference=reference)
    assert MATH.judge(task, output).correct is right
