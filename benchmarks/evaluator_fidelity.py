"""How faithfully the evaluators judge, over the WHOLE dataset files (not the tests' slices).

Three figures per task, each the share of outputs judged the way they were built:
(a) GSM8K and MATH reference solution texts judged right; (b) the reference answer written
the ways agents write it (`tests/evaluators/answer_styles.py`) judged right; (c) perturbed
answers (off by one, doubled, sign flipped, a changed LaTeX integer) judged wrong. Issue 4
asks for >= 0.995 on each; the script exits 1 if a gated figure is below that, and lists the
items judged the other way so a regression can be read, not just counted.

MATH agent styles are gated differently. Since issue 24 a MATH verdict is Math-Verify's
(a published score must be), and Math-Verify reads some of these styles otherwise than they
were built: a `4.5e33` reference as 4.5·e·33 (e Euler's number) while the same number in prose
reads as 4.5; a unit written inside `$...$` (`$560 nm$`, `$0.003 ^{\\prime \\prime}$`) as a
product of letters; prose whose answer is not LaTeX (`The answer is MR=SRMC.`, `**7.6 Z**`)
through a number of the reasoning line. So the gated MATH styles figure is `math_styles_agree`:
the share of styled outputs on which fnforge's verdict equals Math-Verify's verdict as fnforge
calls it (`MathEvaluator.mathverify_verdict`: the same reading of output and reference, none
of fnforge's short-cuts, no time limit, in this process). A short-cut or a timeout that
decides otherwise than Math-Verify lowers it. `math_styles_as_built` (judged right as built)
is printed beside it for information, not gated, with its misses counted by style. MATH
solutions and perturbed answers stay gated as built.

Baseline, measured in the same run: HuggingFace Math-Verify's plain
`verify(parse(gold), parse(output))` on an even sample of the MATH outputs.

Run: .venv/bin/python benchmarks/evaluator_fidelity.py --datasets ../shared/datasets
Last line: RESULT gsm8k_solutions=<share> ... math_styles_agree=<share>
math_styles_as_built=<share> ... math_perturbed=<share>
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
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
from fnforge.evaluators.symbolic import InProcessChecker  # noqa: E402

REQUIRED = 0.995
FILES = {"gsm8k": "gsm8k/train.jsonl", "tabmwp": "tabmwp/dev1k.json", "math": "math/minerva_math.jsonl"}
Case = tuple[Task, str, str]  # task, output, key for reports
GATED_AS_MATH_VERIFY = ("math_styles",)  # gated on agreeing with Math-Verify, not as built


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


_oracle: tuple[Evaluator, InProcessChecker] | None = None


def _mathverify_case(case: tuple[Task, str]) -> bool:
    global _oracle
    if _oracle is None:
        _oracle = (get_evaluator("math"), InProcessChecker())
    evaluator, checker = _oracle
    return evaluator.mathverify_verdict(case[0], case[1], checker)


def mathverify_as_called(cases: list[Case]) -> dict[str, bool]:
    """key -> Math-Verify's verdict as fnforge calls it, with no short-cut and no time limit
    (two forked processes, Math-Verify imported once before the fork)."""
    _mathverify_case((Task(id="warm", inputs={}, reference="1"), "\\boxed{1}"))
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        verdicts = pool.map(_mathverify_case, [(task, output) for task, output, _ in cases], chunksize=16)
        return {key: ok for (_, _, key), ok in zip(cases, verdicts, strict=True)}


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


def _by_style(keys: list[str]) -> str:
    """`the_answer_is 18, bare 6`: how many of the keys (`<task id>/<style>`) each style has."""
    counts = Counter(key.rsplit("/", 1)[-1] for key in keys)
    return ", ".join(f"{style} {n}" for style, n in counts.most_common())


def _report_agreement(name: str, cases: list[Case], verdicts: dict[str, bool], off: list[str]) -> float:
    """Print fnforge against Math-Verify as fnforge calls it, and the as-built misses by style."""
    theirs = mathverify_as_called(cases)
    differ = sorted(key for key, ok in verdicts.items() if ok != theirs[key])
    share = 1 - len(differ) / len(verdicts)
    print(
        f"{name + '_agree':24s} {share:.4f} of {len(verdicts):6d} judged as Math-Verify judges them "
        "as fnforge calls it (gated)",
        flush=True,
    )
    for key in differ[:20]:
        print(f"    fnforge {verdicts[key]}, Math-Verify {theirs[key]}: {key}", flush=True)
    if off:
        print(
            f"    judged the other way as built, by style (Math-Verify's reading): {_by_style(off)}",
            flush=True,
        )
    return share


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
    figures: dict[str, float] = {}  # gated
    shown: dict[str, float] = {}  # every figure, in order, for the RESULT line
    for name, (evaluator, cases, want) in workloads(args.datasets).items():
        verdicts = _judge_all(evaluator, cases)
        off = sorted(key for key, ok in verdicts.items() if ok != want)
        as_built = 1 - len(off) / len(verdicts)
        gated = name not in GATED_AS_MATH_VERIFY
        label = name if gated else f"{name}_as_built"
        line = f"{label:24s} {as_built:.4f} of {len(verdicts):6d} judged as built" + (
            "" if gated else " (not gated)"
        )
        if name.startswith("math"):
            base = mathverify_baseline(cases, want, args.baseline_sample)
            line += f" | Math-Verify parse+verify on {args.baseline_sample}: {base:.4f}"
        print(line, flush=True)
        if gated:
            figures[name] = shown[name] = as_built
            for key in off[:20]:
                print(f"    judged the other way: {key}", flush=True)
        else:
            figures[f"{name}_agree"] = shown[f"{name}_agree"] = _report_agreement(name, cases, verdicts, off)
            shown[label] = as_built
    below = [name for name, share in figures.items() if share < REQUIRED]
    if below:
        print(f"below {REQUIRED}: {', '.join(below)}", flush=True)
    print("RESULT " + " ".join(f"{name}={share:.4f}" for name, share in shown.items()))
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
