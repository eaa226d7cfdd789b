"""How many answers per second each evaluator judges, against math-verify measured in the same run.

Workload, per task, over the whole shared file: every item's reference answer written three
ways agents write it (right: `The answer is X.`, `\\boxed{X}`, `**X**`) and two perturbed
answers (wrong: off by one in the last written digit, times two / another choice / a changed LaTeX number). Each output
is judged once with `Evaluator.judge` on one thread; MATH's symbolic workers are started
before timing (a one-time cost), and every output is distinct so no result cache helps.

fnforge's MATH verdicts are Math-Verify's (issue 24), so its "judged as built" share there is
Math-Verify's reading of these styles (`4.5e33` in prose reads as 4.5), not a fidelity figure.

Baseline: HuggingFace math-verify's plain `verify(parse(gold), parse(output))` on an even
sample of the same outputs (it takes ~20-200 ms per check, so not on all of them). The
script also prints how often each side judged the sample the way it was built to be judged.

Run: .venv/bin/python benchmarks/evaluator_speed.py [--datasets DIR] [--baseline-sample N]
Last line: RESULT gsm8k_per_s=<n> tabmwp_per_s=<n> math_per_s=<n>
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from fractions import Fraction
from pathlib import Path

from fnforge.evaluators import Evaluator, Task, get_evaluator
from fnforge.evaluators.numbers import canonical, parse_number

DEFAULT_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
FILES = {"gsm8k": "gsm8k/train.jsonl", "tabmwp": "tabmwp/dev1k.json", "math": "math/minerva_math.jsonl"}
LETTERS = "ABCDEFGHIJ"


def _wrong(task: Task) -> list[str]:
    ref = str(task.reference)
    choices = task.inputs.get("choices") or []
    if choices:
        return [c for c in choices if c != ref][:1] + [
            f"({LETTERS[i]})" for i, c in enumerate(choices) if c != ref
        ][:1]
    number = parse_number(ref.replace(",", ""))
    if number is not None:  # off by one in the last written digit, and doubled
        v, step = number.value, number.quantum or Fraction(1)
        return [
            canonical(v + max(step, Fraction(1)) if step >= 1 and "e" not in ref else v + step),
            canonical(v * 2 if v else Fraction(3)),
        ]
    m = re.search(r"(?<![\\a-zA-Z_^{])\d+", ref)
    changed = ref[: m.start()] + str(int(m.group(0)) + 1) + ref[m.end() :] if m else f"2({ref})"
    return [changed, f"-({ref})"]


def workload(evaluator: Evaluator, tasks: list[Task]) -> list[tuple[Task, str, bool]]:
    """(task, output, whether it is right) for every item: three right styles, two wrong answers."""
    cases = []
    for task in tasks:
        ref = str(task.reference)
        for out in (
            f"Let me work it out: 3 + 4 = 7.\nThe answer is {ref}.",
            f"\\boxed{{{ref}}}",
            f"So it is **{ref}**",
        ):
            cases.append((task, out, True))
        for wrong in _wrong(task):
            cases.append((task, f"First, 12 * 2 = 24.\nThe answer is {wrong}.", False))
    return cases


def ours(evaluator: Evaluator, cases: list[tuple[Task, str, bool]]) -> tuple[float, float]:
    """(judgements per second, fraction judged as built) for fnforge's evaluator."""
    start = time.perf_counter()
    agree = sum(evaluator.judge(task, out).correct == right for task, out, right in cases)
    return len(cases) / (time.perf_counter() - start), agree / len(cases)


def baseline(cases: list[tuple[Task, str, bool]], sample: int) -> tuple[float, float, int]:
    """(checks per second, fraction judged as built, n) for math-verify's plain parse+verify."""
    from math_verify import parse, verify

    step = max(1, len(cases) // sample)
    picked = cases[::step][:sample]
    start = time.perf_counter()
    agree = 0
    for task, out, right in picked:
        try:
            ok = bool(verify(parse(f"\\boxed{{{task.reference}}}"), parse(out)))
        except Exception:
            ok = False
        agree += ok == right
    return len(picked) / (time.perf_counter() - start), agree / len(picked), len(picked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--baseline-sample", type=int, default=300)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rates = {}
    for name, rel in FILES.items():
        evaluator = get_evaluator(name)
        tasks = evaluator.load(args.datasets / rel)
        cases = workload(evaluator, tasks)
        if name == "math":  # start the symbolic workers before timing
            evaluator.judge(Task(id="warm", inputs={}, reference="x^2"), "\\boxed{x \\cdot x}")
        per_s, agree = ours(evaluator, cases)
        base_per_s, base_agree, n_base = baseline(cases, args.baseline_sample)
        rates[name] = per_s
        print(
            f"{name:7s} fnforge: {per_s:9.0f} checks/s on {len(cases)} outputs, {agree:.4f} judged as built | "
            f"math-verify parse+verify: {base_per_s:7.1f} checks/s on {n_base}, {base_agree:.4f} judged as built | "
            f"ratio {per_s / base_per_s:6.1f}x",
            flush=True,
        )
    print(json.dumps({k: round(v) for k, v in rates.items()}))
    print(
        f"RESULT gsm8k_per_s={rates['gsm8k']:.0f} tabmwp_per_s={rates['tabmwp']:.0f} math_per_s={rates['math']:.0f}"
    )


if __name__ == "__main__":
    main()
