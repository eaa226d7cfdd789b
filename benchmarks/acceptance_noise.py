"""How often each acceptance rule keeps an edit that changes nothing, and how often a real gain.

A simulated sampled agent: every validation task has its own known probability of being solved
(drawn from a U-shaped Beta(0.5, 0.5): most tasks are nearly always or nearly never solved, a
good share are coin flips, as with an LLM at temperature > 0). Head and candidate are scored
independently on the same tasks, as the validation gate scores them. Three kinds of proposed
edits:

  * no change: the candidate's per-task probabilities are the head's (any acceptance is false);
  * +5 and +10 points: each task's probability rises in proportion to its room to improve, so
    the expected accuracy rises by exactly 5 or 10 points.

For validation sets of 100 and 500 tasks, each cell runs PROPOSALS proposals through the real
decision code (`fnforge.engine.acceptance.paired_counts` and `decide`, as the validation gate
calls them) under `improves` (min_delta 0) and `significant` (alpha 0.05), and prints the
share accepted; 200 of the proposals also go through the real `ValidationGate` (fed the
sampled verdicts by a stub scorer) to show the gate decides exactly as simulated. The baseline of the run is `improves`: the ratio printed is significant's
false acceptance over improves'. The last line is
`RESULT val=500 improves_false_accept=<share> significant_false_accept=<share> significant_power_10pt=<share>`.
"""

from __future__ import annotations

import os
import random
import time

from fnforge.engine.acceptance import decide, paired_counts
from fnforge.engine.evaluation import Evaluation
from fnforge.engine.validation import ValidationGate
from fnforge.evaluators.scoring import Score
from fnforge.evaluators.task import ItemResult

PROPOSALS = int(os.environ.get("FNFORGE_BENCH_PROPOSALS", "2000"))
ALPHA = 0.05
SIZES = (100, 500)
GAINS = (0.0, 0.05, 0.10)
RULES = ("improves", "significant")


def task_probabilities(rng: random.Random, n: int) -> list[float]:
    """The head's known chance of solving each task."""
    return [rng.betavariate(0.5, 0.5) for _ in range(n)]


def improved(p: list[float], gain: float) -> list[float]:
    """Per-task probabilities whose mean is exactly `gain` above p's (each rises with its headroom)."""
    room = sum(1 - x for x in p) / len(p)
    if gain == 0 or room <= 0:
        return list(p)
    scale = min(1.0, gain / room)
    return [x + scale * (1 - x) for x in p]


def sample(rng: random.Random, p: list[float]) -> dict[str, float]:
    """One evaluation: each task solved or not with its own probability."""
    return {f"t{i}": float(rng.random() < x) for i, x in enumerate(p)}


def accepted_share(rng: random.Random, n: int, gain: float) -> dict[str, float]:
    """The share of PROPOSALS edits with this true gain that each rule accepts."""
    hits = dict.fromkeys(RULES, 0)
    for _ in range(PROPOSALS):
        p = task_probabilities(rng, n)
        head, cand = sample(rng, p), sample(rng, improved(p, gain))
        before, after = sum(head.values()) / n, sum(cand.values()) / n
        fixed, broken = paired_counts(head, cand)
        for rule in RULES:
            d = decide(rule, before=before, after=after, fixed=fixed, broken=broken, alpha=ALPHA)
            hits[rule] += d.accepted
    return {rule: hits[rule] / PROPOSALS for rule in RULES}


class _FixedScorer:
    """Hands the validation gate two given evaluations (head, then candidate) as if it ran them."""

    def __init__(self, head: dict[str, float], cand: dict[str, float]):
        self.by_set = {"head": head, "cand": cand}

    def score(self, functions, tasks, *, split):
        marks = self.by_set[functions["which"]]
        items = [
            ItemResult(id=t, correct=bool(v), extracted=None, reference="", score=v) for t, v in marks.items()
        ]
        return Evaluation(score=Score.from_results(items), set_hash=functions["which"])


class _Candidate:
    functions = {"which": "cand"}
    base_functions = {"which": "head"}


def gate_agrees(rng: random.Random, checks: int = 200, n: int = 100) -> int:
    """Run the real ValidationGate on `checks` simulated proposals; the count agreeing with `decide`."""
    agree = 0
    for i in range(checks):
        p = task_probabilities(rng, n)
        head, cand = sample(rng, p), sample(rng, improved(p, 0.1 * (i % 2)))
        for rule in RULES:
            gate = ValidationGate(_FixedScorer(head, cand), list(head), 0.0, rule=rule, alpha=ALPHA)
            verdict = gate.check(_Candidate())
            fixed, broken = paired_counts(head, cand)
            before, after = sum(head.values()) / n, sum(cand.values()) / n
            d = decide(rule, before=before, after=after, fixed=fixed, broken=broken, alpha=ALPHA)
            agree += verdict.passed == d.accepted
    return agree


def main() -> None:
    rng = random.Random(20261130)
    t0 = time.perf_counter()
    table: dict[tuple[int, float], dict[str, float]] = {}
    print(f"{PROPOSALS} proposals per cell; per-task p ~ Beta(0.5, 0.5); alpha = {ALPHA}")
    print(f"{'val':>5} {'true gain':>9} {'improves':>9} {'significant':>12}")
    for n in SIZES:
        for gain in GAINS:
            table[n, gain] = share = accepted_share(rng, n, gain)
            kind = "none" if gain == 0 else f"+{gain * 100:.0f} pt"
            print(f"{n:>5} {kind:>9} {share['improves']:>9.3f} {share['significant']:>12.3f}")
    print("(gain none: false acceptance; +5/+10 pt: power)")
    for n in SIZES:
        base = table[n, 0.0]["improves"]
        ratio = table[n, 0.0]["significant"] / base if base else float("nan")
        print(f"val={n}: significant's false acceptance is {ratio:.3f} x improves' (baseline)")
    agree = gate_agrees(rng)
    print(f"the real ValidationGate agreed with the simulated decisions on {agree}/400 checks")
    assert agree == 400
    print(f"{time.perf_counter() - t0:.1f}s")
    big = table[500, 0.0], table[500, 0.10]
    print(
        f"RESULT val=500 improves_false_accept={big[0]['improves']:.3f} "
        f"significant_false_accept={big[0]['significant']:.3f} "
        f"significant_power_10pt={big[1]['significant']:.3f}"
    )


if __name__ == "__main__":
    main()
