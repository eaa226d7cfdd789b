"""How faithfully the evaluators judge, over the WHOLE dataset files (not the tests' slices).

Three figures per task, each the share of outputs judged the way they were built:
(a) GSM8K and MATH reference solution texts judged right; (b) the reference answer written
the ways agents write it (`tests/evaluators/answer_styles.py`) judged right; (c) perturbed
answers (off by one, doubled, sign flipped, a changed LaTeX integer) judged wrong. Issue 4
asks for >= 0.995 on each; the script exits 1 if a figure is below that, and lists the items
judged the other way so a regression can be read, not just counted.

Baseline, measured in the same run: HuggingFace Math-Verify's plain
`verify(parse(gold), parse(output))` on an even sample of the MATH outputs.

Run: .venv/bin/python benchmarks/evaluator_fidelity.py --datasets ../shared/datasets
Last line: RESULT gsm8k_solutions=<share> ... math_perturbed=<share>
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "evaluators"))  # the agent answer styles the tests also use

from answer_styles import (  # noqa: E402
    LETTERS,
    REASONING,
    latex_perturbations,
    numeric_perturbations,
    styles,
    unit_after_box,
    with_thousands,
)

from fnforge.evaluators import Evaluator, Task, get_evaluator  # noqa: E402
from fnforge.evaluators.numbers import parse_number  # noqa: E402

REQUIRED = 0.995
FILES = {"gsm8k": "gsm8k/train.jsonl", "tabmwp": "tabmwp/dev1k.json", "math": "math/minerva_math.jsonl"}
Case = tuple[Task, str, str]  # task, output, key for reports


def _judge_all(evaluator: Evaluator, cases: list[Case]) -> dict[str, bool]:
    """key -> correct, judging on two threads (the MATH symbolic checker has two workers)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        verdicts = pool.map(lambda c: evaluator.judge(c[0], c[1]).correct, cases)
        return {key: ok for (_, _, key), ok in zip(cases, verdicts, strict=True)}


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


def _written_wrong(task: Task, wrong: list[str], latex: bool) -> list[Case]:
    cases = []
    for w in wrong:
        shown = f"${w}$" if latex else w
        cases.append((task, f"{REASONING}The answer is {shown}.", f"{task.id}/{w}/the_answer_is"))
        cases.append((task, f"\\boxed{{{w}}}", f"{task.id}/{w}/boxed"))
    return cases


def tabmwp_wrong_outputs(task: Task) -> list[Case]:
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


def workloads(datasets: Path) -> dict[str, tuple[Evaluator, list[Case], bool]]:
    """figure name -> (evaluator, cases, the verdict every case was built to get)."""
    out: dict[str, tuple[Evaluator, list[Case], bool]] = {}
    gsm8k, tabmwp, math = (get_evaluator(n) for n in ("gsm8k", "tabmwp", "math"))
    g_tasks = gsm8k.load(datasets / FILES["gsm8k"])
    g_raw = [json.loads(x) for x in (datasets / FILES["gsm8k"]).read_text().splitlines() if x.strip()]
    t_tasks = tabmwp.load(datasets / FILES["tabmwp"])
    m_tasks = math.load(datasets / FILES["math"])
    m_raw = [json.loads(x) for x in (datasets / FILES["math"]).read_text().splitlines() if x.strip()]
    out["gsm8k_solutions"] = (
        gsm8k,
        [(t, r["answer"], t.id) for t, r in zip(g_tasks, g_raw, strict=True)],
        True,
    )
    out["math_solutions"] = (
        math,
        [(t, r["solution"], t.id) for t, r in zip(m_tasks, m_raw, strict=True)],
        True,
    )
    out["gsm8k_styles"] = (
        gsm8k,
        [(t, o, f"{t.id}/{s}") for t in g_tasks for s, o in gsm8k_right_outputs(t).items()],
        True,
    )
    out["tabmwp_styles"] = (
        tabmwp,
        [(t, o, f"{t.id}/{s}") for t in t_tasks for s, o in tabmwp_right_outputs(t).items()],
        True,
    )
    out["math_styles"] = (
        math,
        [
            (t, o, f"{t.id}/{s}")
            for t, r in zip(m_tasks, m_raw, strict=True)
            for s, o in math_right_outputs(t, r["solution"]).items()
        ],
        True,
    )
    out["gsm8k_perturbed"] = (
        gsm8k,
        [c for t in g_tasks for c in _written_wrong(t, numeric_perturbations(str(t.reference)), latex=False)],
        False,
    )
    out["tabmwp_perturbed"] = (tabmwp, [c for t in t_tasks for c in tabmwp_wrong_outputs(t)], False)
    out["math_perturbed"] = (
        math,
        [c for t in m_tasks for c in _written_wrong(t, latex_perturbations(str(t.reference)), latex=True)],
        False,
    )
    return out


def mathverify_baseline(cases: list[Case], want: bool, sample: int) -> float:
    """The share Math-Verify's plain parse+verify judges as built, on an even sample."""
    from math_verify import parse, verify

    picked = cases[:: max(1, len(cases) // sample)][:sample]
    agree = 0
    for task, output, _ in picked:
        try:
            ok = bool(verify(parse(f"\\boxed{{{task.reference}}}"), parse(output)))
        except Exception:  # noqa: BLE001 - a crash of the baseline counts as "wrong"
            ok = False
        agree += ok == want
    return agree / len(picked) if picked else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, required=True, help="folder with gsm8k/, tabmwp/, math/")
    parser.add_argument(
        "--baseline-sample", type=int, default=100, help="MATH outputs per figure for Math-Verify"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    missing = [rel for rel in FILES.values() if not (args.datasets / rel).is_file()]
    if missing:
        print(f"error: {args.datasets}: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    figures: dict[str, float] = {}
    for name, (evaluator, cases, want) in workloads(args.datasets).items():
        verdicts = _judge_all(evaluator, cases)
        off = sorted(key for key, ok in verdicts.items() if ok != want)
        figures[name] = 1 - len(off) / len(verdicts)
        line = f"{name:17s} {figures[name]:.4f} of {len(verdicts):6d} judged as built"
        if name.startswith("math"):
            base = mathverify_baseline(cases, want, args.baseline_sample)
            line += f" | Math-Verify parse+verify on {args.baseline_sample}: {base:.4f}"
        print(line, flush=True)
        for key in off[:20]:
            print(f"    judged the other way: {key}", flush=True)
    below = [name for name, share in figures.items() if share < REQUIRED]
    if below:
        print(f"below {REQUIRED}: {', '.join(below)}", flush=True)
    print("RESULT " + " ".join(f"{name}={share:.4f}" for name, share in figures.items()))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
