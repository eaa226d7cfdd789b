"""The evaluators over the WHOLE shared files: reference solutions, answers written the ways
agents write them, and slightly wrong answers.

Done-when of issue 4: (a) GSM8K and MATH reference solution texts judged correct >= 99.5%;
(b) the reference answer in agent styles judged correct >= 99.5% for all three tasks;
(c) perturbed answers judged wrong >= 99.5%. Every item that is allowed to fail is listed
below with its reason; an unlisted failure fails the test (so does a listed one that no
longer fails, to keep the lists true).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from answer_styles import (
    LETTERS,
    REASONING,
    latex_perturbations,
    numeric_perturbations,
    styles,
    unit_after_box,
    with_thousands,
)

from fnforge.evaluators import Evaluator, Task, get_evaluator
from fnforge.evaluators.numbers import parse_number

REQUIRED = 0.995

# ---- allow-lists: id -> why this item may be judged the other way -----------------------
# (a) reference solution texts
GSM8K_SOLUTION_EXCEPTIONS: dict[str, str] = {}
MATH_SOLUTION_EXCEPTIONS: dict[str, str] = {}
# (b) right answers in agent styles, keyed "id/style"
GSM8K_STYLE_EXCEPTIONS: dict[str, str] = {}
TABMWP_STYLE_EXCEPTIONS: dict[str, str] = {}
MATH_STYLE_EXCEPTIONS: dict[str, str] = {
    "72/dollar_math": "the reference itself holds a stray `$ $` (`x_{0} \\cos (\\omega t)+$ $\\dot{x}_{0} ...`), "
    "so `The answer is $<ref>$.` is two math spans and the first one is read as the answer",
}
# (c) perturbed answers judged right, keyed "id/perturbed answer"
GSM8K_PERTURBED_EXCEPTIONS: dict[str, str] = {}
TABMWP_PERTURBED_EXCEPTIONS: dict[str, str] = {}
MATH_PERTURBED_EXCEPTIONS: dict[str, str] = {
    # math-verify cannot parse `E_{1}` (the parse loses the symbols, so it is not trusted) and
    # the string shortcut cannot see through the sign: a negated sum reads as undecided -> wrong.
    # Listed for completeness; nothing is expected here at present.
}


def _judge_all(evaluator: Evaluator, cases: list[tuple[Task, str, str]]) -> dict[str, bool]:
    """key -> correct, judging on two threads (the MATH symbolic checker has two workers)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = pool.map(lambda c: evaluator.judge(c[0], c[1]).correct, cases)
        return {key: ok for (_, _, key), ok in zip(cases, verdicts, strict=True)}


def _assert_rate(verdicts: dict[str, bool], want: bool, allowed: dict[str, str], what: str) -> None:
    off = {key for key, ok in verdicts.items() if ok != want}
    unexplained = sorted(off - set(allowed))
    stale = sorted(set(allowed) - off)
    rate = 1 - len(off) / len(verdicts)
    assert not unexplained, f"{what}: {len(unexplained)} unexplained, e.g. {unexplained[:10]}"
    assert not stale, f"{what}: allow-listed but now fine (remove them): {stale}"
    assert rate >= REQUIRED, f"{what}: {rate:.4f} < {REQUIRED}"


@pytest.fixture(scope="module")
def gsm8k(datasets_dir: Path) -> tuple[Evaluator, list[Task], list[dict]]:
    path = datasets_dir / "gsm8k" / "train.jsonl"
    evaluator = get_evaluator("gsm8k")
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return evaluator, evaluator.load(path), raw


@pytest.fixture(scope="module")
def tabmwp(datasets_dir: Path) -> tuple[Evaluator, list[Task]]:
    evaluator = get_evaluator("tabmwp")
    return evaluator, evaluator.load(datasets_dir / "tabmwp" / "dev1k.json")


@pytest.fixture(scope="module")
def math(datasets_dir: Path) -> tuple[Evaluator, list[Task], list[dict]]:
    path = datasets_dir / "math" / "minerva_math.jsonl"
    evaluator = get_evaluator("math")
    raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return evaluator, evaluator.load(path), raw


def test_files_load_whole_with_their_ids_and_categories(gsm8k, tabmwp, math) -> None:
    assert len(gsm8k[1]) == 7473 and gsm8k[1][0].id == "0" and gsm8k[1][0].reference == "72"
    assert len(tabmwp[1]) == 1000 and tabmwp[1][0].id == "33"
    assert tabmwp[1][0].metadata == {"ques_type": "multi_choice", "grade": 8, "ans_type": "boolean_text"}
    assert len(math[1]) == 272 and math[1][1].reference == "4.5e33" and "type" in math[1][1].metadata


# ---- (a) reference solution texts ----------------------------------------------------------


def test_gsm8k_reference_solutions_are_judged_correct(gsm8k) -> None:
    evaluator, tasks, raw = gsm8k
    cases = [(t, r["answer"], t.id) for t, r in zip(tasks, raw, strict=True)]
    _assert_rate(_judge_all(evaluator, cases), True, GSM8K_SOLUTION_EXCEPTIONS, "GSM8K solutions")


def test_math_reference_solutions_are_judged_correct(math) -> None:
    evaluator, tasks, raw = math
    cases = [(t, r["solution"], t.id) for t, r in zip(tasks, raw, strict=True)]
    _assert_rate(_judge_all(evaluator, cases), True, MATH_SOLUTION_EXCEPTIONS, "MATH solutions")


# ---- (b) the reference answer written the ways agents write answers ------------------------


def gsm8k_right_outputs(task: Task) -> dict[str, str]:
    ref = str(task.reference)
    value = parse_number(ref).value
    outs = styles(ref, latex=False)
    outs["currency_cents"] = f"{REASONING}She pays ${ref}.00 in total."
    outs["unit"] = f"{REASONING}The answer is {ref} apples."
    outs["hashes"] = f"{REASONING}#### {ref}"
    thousands = with_thousands(value)
    if thousands:
        outs["thousands"] = f"{REASONING}The answer is {thousands}."
        outs["currency_thousands"] = f"{REASONING}The total is ${thousands}.00."
    return outs


def test_gsm8k_answers_in_agent_styles_are_judged_correct(gsm8k) -> None:
    evaluator, tasks, _ = gsm8k
    cases = [(t, out, f"{t.id}/{style}") for t in tasks for style, out in gsm8k_right_outputs(t).items()]
    _assert_rate(_judge_all(evaluator, cases), True, GSM8K_STYLE_EXCEPTIONS, "GSM8K agent styles")


def tabmwp_right_outputs(task: Task) -> dict[str, str]:
    ref, choices, unit = str(task.reference), task.inputs["choices"], task.inputs["unit"]
    outs = styles(ref, latex=False)
    if choices:
        letter = LETTERS[choices.index(ref)]
        outs.update(
            {
                "letter": f"{REASONING}Answer: ({letter})",
                "letter_and_text": f"{REASONING}Answer: ({letter}) {ref}",
                "letter_bare": letter,
                "the_answer_is_letter": f"{REASONING}The answer is {letter}.",
                "lower_case": f"{REASONING}Answer: {ref.lower()}",
                "bold_choice": f"{REASONING}The correct choice is **{ref}**",
            }
        )
        return outs
    if unit.startswith("$"):
        outs["currency"] = f"{REASONING}The answer is ${ref}."
    elif unit:
        outs["unit"] = f"{REASONING}The answer is {ref} {unit}."
    number = parse_number(ref)
    if number is not None:
        thousands = with_thousands(number.value)
        if thousands:
            outs["thousands"] = f"{REASONING}Answer: {thousands}"
        if "," in ref:
            outs["no_separator"] = f"{REASONING}Answer: {ref.replace(',', '')}"
    return outs


def test_tabmwp_answers_in_agent_styles_are_judged_correct(tabmwp) -> None:
    evaluator, tasks = tabmwp
    cases = [(t, out, f"{t.id}/{style}") for t in tasks for style, out in tabmwp_right_outputs(t).items()]
    _assert_rate(_judge_all(evaluator, cases), True, TABMWP_STYLE_EXCEPTIONS, "TabMWP agent styles")


def math_right_outputs(task: Task, solution: str) -> dict[str, str]:
    ref = str(task.reference)
    outs = styles(ref, latex=True)
    if "\\frac" in ref:
        dfrac = ref.replace("\\frac", "\\dfrac")
        outs["dfrac"] = f"{REASONING}\\boxed{{{dfrac}}}"
    number = parse_number(ref)
    thousands = with_thousands(number.value) if number is not None and "e" not in ref else None
    if thousands:
        outs["thousands"] = f"{REASONING}The answer is {thousands}."
        outs["latex_thousands"] = f"{REASONING}\\boxed{{{thousands.replace(',', '{,}')}}}"
    unit = unit_after_box(solution, ref)
    if unit:
        outs["unit_in_math"] = f"{REASONING}The answer is ${ref} {unit}$."
        outs["unit_after_box"] = f"{REASONING}\\boxed{{{ref}}} {unit}"
    return outs


def test_math_answers_in_agent_styles_are_judged_correct(math) -> None:
    evaluator, tasks, raw = math
    cases = [
        (t, out, f"{t.id}/{style}")
        for t, r in zip(tasks, raw, strict=True)
        for style, out in math_right_outputs(t, r["solution"]).items()
    ]
    _assert_rate(_judge_all(evaluator, cases), True, MATH_STYLE_EXCEPTIONS, "MATH agent styles")


# ---- (c) perturbed answers ----------------------------------------------------------------


def _written_wrong(task: Task, wrong: list[str], latex: bool) -> list[tuple[Task, str, str]]:
    cases = []
    for w in wrong:
        shown = f"${w}$" if latex else w
        cases.append((task, f"{REASONING}The answer is {shown}.", f"{task.id}/{w}/the_answer_is"))
        cases.append((task, f"\\boxed{{{w}}}", f"{task.id}/{w}/boxed"))
    return cases


def test_gsm8k_perturbed_answers_are_judged_wrong(gsm8k) -> None:
    evaluator, tasks, _ = gsm8k
    cases = [
        c for t in tasks for c in _written_wrong(t, numeric_perturbations(str(t.reference)), latex=False)
    ]
    assert len(cases) > 7473 * 8
    _assert_rate(_judge_all(evaluator, cases), False, GSM8K_PERTURBED_EXCEPTIONS, "GSM8K perturbed")


def tabmwp_wrong_outputs(task: Task) -> list[tuple[Task, str, str]]:
    ref, choices = str(task.reference), task.inputs["choices"]
    if not choices:
        return _written_wrong(task, numeric_perturbations(ref.replace(",", "")), latex=False)
    cases = []
    for n, choice in enumerate(choices):
        if choice != ref:
            cases += [
                (task, f"{REASONING}Answer: {choice}", f"{task.id}/{choice}/text"),
                (task, f"{REASONING}Answer: ({LETTERS[n]})", f"{task.id}/{choice}/letter"),
                (task, f"{REASONING}The answer is {LETTERS[n]}.", f"{task.id}/{choice}/the_answer_is_letter"),
            ]
    return cases


def test_tabmwp_perturbed_answers_and_other_choices_are_judged_wrong(tabmwp) -> None:
    evaluator, tasks = tabmwp
    cases = [c for t in tasks for c in tabmwp_wrong_outputs(t)]
    assert all(tabmwp_wrong_outputs(t) for t in tasks), "every item has at least one wrong answer"
    _assert_rate(_judge_all(evaluator, cases), False, TABMWP_PERTURBED_EXCEPTIONS, "TabMWP perturbed")


def test_math_perturbed_answers_are_judged_wrong(math) -> None:
    evaluator, tasks, _ = math
    cases = [c for t in tasks for c in _written_wrong(t, latex_perturbations(str(t.reference)), latex=True)]
    assert all(latex_perturbations(str(t.reference)) for t in tasks)
    _assert_rate(_judge_all(evaluator, cases), False, MATH_PERTURBED_EXCEPTIONS, "MATH perturbed")
