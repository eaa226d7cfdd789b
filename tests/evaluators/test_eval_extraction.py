"""Reading the final answer out of free text, the ways agents really end their replies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnforge.evaluators import Task, get_evaluator
from fnforge.evaluators.extract import boxed_contents, marked_answer

GSM8K = get_evaluator("gsm8k")
MATH = get_evaluator("math")
TABMWP = get_evaluator("tabmwp")


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("48 / 2 = 24 clips in May.\n48 + 24 = 72 clips.\n#### 72", "72"),
        ("The answer is 72.", "72"),
        ("Answer: 72", "72"),
        ("So she sold **72** clips", "72"),
        ("\\boxed{72}", "72"),
        ("The total cost is $1,234.50.", "1234.5"),
        ("The answer is $1,234.50 after tax.", "1234.5"),
        ("**Final answer:** 12%", "12"),
        ("She lost -$5 on the deal.", "-5"),
        ("She had 3 apples, bought 5 more, then ate 2. So she has 6 apples left.", "6"),
        ("First 10 + 20 = 30.\nThe answer is 3 * 10 = 30 pages.", "30"),
        ("Answer:\n 1,080", "1080"),
        ("The answer is 18.00", "18"),
        ("It takes 1/2 of an hour", "0.5"),
        # no marker: the conclusion is the last sentence with a number, not the last number
        ("Count by tens. Use the chart: there are 40 teacups in 4 kitchen cabinets.", "40"),
        ("She makes 9 * 2 = $18 every day at the market.\nHope this helps!", "18"),
        ("Add: 4 + 20 = 24\n\n24 members planted fewer than 2 seeds.", "24"),
    ],
)
def test_gsm8k_reads_the_final_number(output: str, expected: str) -> None:
    assert GSM8K.extract(output) == expected


def test_picks_the_final_answer_not_the_first_number() -> None:
    output = "Step 1: 12 * 2 = 24.\n**Step 2:** 24 + 7 = 31.\nSo the answer is 31."
    assert GSM8K.extract(output) == "31"
    assert GSM8K.extract("I first thought 40, but recomputing: 3 + 4 = 7\n#### 7") == "7"


def test_markdown_headings_are_not_answers_and_the_last_marker_wins() -> None:
    assert GSM8K.extract("#### Step 1\n12 * 2 = 24\n#### Step 2\nThe answer is 31.") == "31"
    assert (
        MATH.extract("#### Solution\nWe get $x = 2$.\n#### Final Answer\n\\boxed{\\frac{1}{2}}")
        == "\\frac{1}{2}"
    )
    assert MATH.extract("The answer is \\boxed{5}") == "5"
    assert GSM8K.extract("The answer is 5.\nWait, I made an error: 3 + 4 = 7.\n#### 7") == "7"


def test_boxed_keeps_nested_braces_and_takes_the_last_box() -> None:
    text = "First \\boxed{1}, then finally \\boxed{\\frac{1}{\\sqrt{2}} + \\left\\{x\\right\\}}."
    assert boxed_contents(text) == ["1", "\\frac{1}{\\sqrt{2}} + \\left\\{x\\right\\}"]
    assert MATH.extract(text) == "\\frac{1}{\\sqrt{2}} + \\left\\{x\\right\\}"
    assert MATH.extract("so $x = \\boxed{\\dfrac{3}{4}}$.") == "\\dfrac{3}{4}"


def test_math_extraction_without_a_box() -> None:
    assert MATH.extract("Thus the answer is $\\frac{\\pi}{2}$.") == "\\frac{\\pi}{2}"
    assert MATH.extract("We get $x=1$ and then $y = 2\\sqrt{3}$") == "y = 2\\sqrt{3}"
    assert MATH.extract("\\frac{\\cos (2 t)}{15}") == "\\frac{\\cos (2 t)}{15}"
    assert MATH.extract("") is None


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("The answer is 7 because 3 + 4 = 7.", "7"),
        ("The answer is \\frac{1}{2} since x > 0", "\\frac{1}{2}"),
        ("Answer: x = 5 (since the product is 5)", "x = 5"),
        ("The answer is: 3.5. That is all.", "3.5"),
    ],
)
def test_the_answer_sentence_ends_where_the_answer_does(output: str, expected: str) -> None:
    assert MATH.extract(output) == expected


def test_answer_with_letter_and_text_picks_the_choice() -> None:
    assert marked_answer("Reasoning...\nAnswer: (B) 7") == "(B) 7"
    task = Task(id="1", inputs={"question": "?", "choices": ["5", "7", "9"]}, reference="7")
    for output in [
        "Answer: (B) 7",
        "Answer: (B)",
        "Answer: 7",
        "The answer is B.",
        "**7**",
        "I pick option b",
    ]:
        result = TABMWP.judge(task, output)
        assert result.correct, output
        assert result.extracted == "7"
    assert not TABMWP.judge(task, "Answer: (C) 9").correct
    # an article is not a letter: the sentence names choice "7", not choice A
    assert TABMWP.judge(task, "A total of 7 is the answer").correct
    assert TABMWP.judge(task, "B.").correct and TABMWP.judge(task, "B) 7").correct
    # an explicit answer that names no choice is wrong, even if the reasoning mentions the right one
    assert not TABMWP.judge(task, "7 - 1 = 6\nAnswer: 6").correct


def test_choice_text_is_case_and_spacing_insensitive_and_never_matches_inside_a_word() -> None:
    task = Task(id="1", inputs={"question": "?", "choices": ["linear", "nonlinear"]}, reference="nonlinear")
    assert TABMWP.judge(task, "The function is **Nonlinear**.").correct
    assert TABMWP.judge(task, "The rate of change varies, so the function is nonlinear.").correct
    assert not TABMWP.judge(task, "The function is linear.").correct
    times = Task(
        id="2", inputs={"question": "?", "choices": ["2:50 P.M.", "2:10 P.M."]}, reference="2:10 P.M."
    )
    assert TABMWP.judge(times, "Answer: 2:10 pm").correct


def test_tabmwp_numbers_ignore_units_currency_and_match_fractions_to_three_places() -> None:
    money = Task(id="1", inputs={"question": "?", "choices": [], "unit": "$"}, reference="2,825.35")
    assert TABMWP.judge(money, "Answer: $2,825.35").correct
    assert TABMWP.judge(money, "The total is 2825.35 dollars.").correct
    fraction = Task(id="2", inputs={"question": "?", "choices": [], "unit": ""}, reference="1/12")
    assert TABMWP.judge(fraction, "Answer: 1/12").correct
    assert TABMWP.judge(fraction, "Answer: 0.083").correct
    assert TABMWP.judge(fraction, "Answer: 2/24").correct
    assert not TABMWP.judge(fraction, "Answer: 1/13").correct
    mixed = Task(id="3", inputs={"question": "?", "choices": [], "unit": "cups"}, reference="2.5")
    assert TABMWP.judge(mixed, "Answer: 2 1/2 cups").correct


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_judging_any_text_never_raises(text: str) -> None:
    gsm = Task(id="g", inputs={"question": "?"}, reference="72")
    tab = Task(id="t", inputs={"question": "?", "choices": ["yes", "no"], "unit": ""}, reference="yes")
    tab_free = Task(id="f", inputs={"question": "?", "choices": [], "unit": "$"}, reference="3.50")
    for evaluator, task in [(GSM8K, gsm), (TABMWP, tab), (TABMWP, tab_free)]:
        result = evaluator.judge(task, text)
        assert isinstance(result.correct, bool)


def test_gsm8k_accepts_float_noise_from_direct_mode_but_not_a_different_number() -> None:
    task = Task(id="1", inputs={"question": "?"}, reference="10")
    assert GSM8K.extract("10.000000000000002") == "10.000000000000002"
    assert GSM8K.judge(task, "10.000000000000002").correct
    assert GSM8K.judge(task, "10.0").correct
    assert not GSM8K.judge(task, "10.001").correct


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789x+-*/^{}()[]\\$=,. abcfrqtsi%")), max_size=80))
def test_math_judging_of_latex_like_noise_never_raises(text: str) -> None:
    task = Task(id="m", inputs={"question": "?"}, reference="\\frac{1}{2}")
    result = MATH.judge(task, f"\\boxed{{{text}}}")
    assert isinstance(result.correct, bool)


def test_a_megabyte_of_output_is_judged_in_well_under_a_second() -> None:
    import time

    noise = "step 1 + 2 = 3, (((( {{{{ $ ** " * 40_000 + "\nThe answer is 72."
    gsm = Task(id="g", inputs={"question": "?"}, reference="72")
    tab = Task(id="t", inputs={"question": "?", "choices": [], "unit": ""}, reference="72")
    math = Task(id="m", inputs={"question": "?"}, reference="72")
    start = time.monotonic()
    assert GSM8K.judge(gsm, noise).correct
    assert TABMWP.judge(tab, noise).correct
    assert MATH.judge(math, noise).correct
    assert time.monotonic() - start < 2.0
