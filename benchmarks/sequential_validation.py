"""What sequential validation saves, and what it costs in false acceptances and power.

The world of `acceptance_noise.py`: a sampled agent whose every validation task has its own
known chance of being solved (Beta(0.5, 0.5): most tasks nearly always or nearly never solved,
a good share coin flips). Head and candidate are scored independently on the same 500 tasks.
Proposals come in the issue's mix: 70% change nothing, 20% lose 5 points, 10% gain 10 points
(each task's chance moves in proportion to its room to move). Each kind is a cell of
PROPOSALS proposals; every proposal is decided twice through the real code:

  * full (the baseline): `acceptance.paired_counts` and `decide` on all 500 tasks;
  * sequential: `sequential.SequentialTest` fed chunk after chunk in the run's seeded order
    (`validation_order`), stopping as soon as it decides (`[training] validation_chunk`,
    `validation_futility`).

A sample of the proposals also goes through the real `ValidationGate` (sequential mode, a
stub scorer handing it the simulated verdicts) to show the gate decides exactly as simulated.
Printed per rule: false acceptance (no change accepted), power at +10 and -5 points accepted,
and the candidate rollouts per decision over the mix, sequential over full. The last line is
`RESULT val=500 full_false_accept=<s> seq_false_accept=<s> full_power_10pt=<s> seq_power_10pt=<s> rollouts_ratio=<r>`
for the default rule (`significant`); targets: seq_false_accept <= 0.05, seq_power_10pt >=
0.95 x full_power_10pt, rollouts_ratio <= 0.4.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from acceptance_noise import improved, task_probabilities  # noqa: E402

from fnforge.config import Settings  # noqa: E402
from fnforge.engine.acceptance import decide, paired_counts  # noqa: E402
from fnforge.engine.evaluation import Evaluation  # noqa: E402
from fnforge.engine.sequential import SequentialTest, chunk_size  # noqa: E402
from fnforge.engine.validation import validation_gate  # noqa: E402
from fnforge.engine.validation_order import validation_order  # noqa: E402
from fnforge.evaluators.scoring import Score  # noqa: E402
from fnforge.evaluators.task import ItemResult, Task  # noqa: E402

PROPOSALS = int(os.environ.get("FNFORGE_BENCH_PROPOSALS", "2000"))
N = 500
ALPHA = 0.05
CHUNK = int(os.environ.get("FNFORGE_BENCH_CHUNK", "40"))
FUTILITY = float(os.environ.get("FNFORGE_BENCH_FUTILITY", "0.08"))
MIX = {"none": (0.0, 0.70), "-5 pt": (-0.05, 0.20), "+10 pt": (0.10, 0.10)}
RULES = ("significant", "improves")


def moved(p: list[float], gain: float) -> list[float]:
    """Per-task chances whose mean moves by `gain` (a loss shrinks each chance in proportion)."""
    if gain >= 0:
        return improved(p, gain)
    mean = sum(p) / len(p)
    scale = min(1.0, -gain / mean)
    return [x * (1 - scale) for x in p]


def sample(rng: random.Random, p: list[float]) -> list[float]:
    """One evaluation: each task solved or not with its own chance."""
    return [float(rng.random() < x) for x in p]


def sequential(rule: str, order: list[int], head: list[float], cand: list[float]) -> tuple[bool, int]:
    """(accepted, tasks used) of the real sequential rule walking `order` in chunks."""
    test = SequentialTest(rule, len(order), alpha=ALPHA, futility=FUTILITY)
    size = chunk_size(len(order), CHUNK)
    for start in range(0, len(order), size):
        part = order[start : start + size]
        found = test.observe({str(i): head[i] for i in part}, {str(i): cand[i] for i in part})
        if found is not None:
            return found.accepted, found.tasks
    raise AssertionError("the last look always decides")


def full(rule: str, head: list[float], cand: list[float]) -> bool:
    """The fixed-sample decision on every task (the baseline)."""
    h = {str(i): v for i, v in enumerate(head)}
    c = {str(i): v for i, v in enumerate(cand)}
    fixed, broken = paired_counts(h, c)
    before, after = sum(head) / len(head), sum(cand) / len(cand)
    return decide(rule, before=before, after=after, fixed=fixed, broken=broken, alpha=ALPHA).accepted


def cell(rng: random.Random, gain: float, order: list[int]) -> dict[str, dict[str, float]]:
    """For each rule: the share accepted, full and sequential, and the mean tasks sequential used."""
    out = {r: {"full": 0.0, "seq": 0.0, "tasks": 0.0} for r in RULES}
    for _ in range(PROPOSALS):
        p = task_probabilities(rng, N)
        head, cand = sample(rng, p), sample(rng, moved(p, gain))
        for rule in RULES:
            accepted, used = sequential(rule, order, head, cand)
            out[rule]["full"] += full(rule, head, cand) / PROPOSALS
            out[rule]["seq"] += accepted / PROPOSALS
            out[rule]["tasks"] += used / PROPOSALS
    return out


class _GivenScorer:
    """Hands the gate the simulated verdicts of head and candidate for whichever tasks it asks."""

    def __init__(self, head: list[float], cand: list[float]):
        self.by_set = {"head": head, "cand": cand}

    def score(self, functions, tasks, *, split):
        marks = self.by_set[functions["which"]]
        items = [
            ItemResult(
                id=t.id, correct=bool(marks[int(t.id)]), extracted=None, reference="", score=marks[int(t.id)]
            )
            for t in tasks
        ]
        return Evaluation(score=Score.from_results(items), set_hash=functions["which"])


class _Candidate:
    functions = {"which": "cand"}
    base_functions = {"which": "head"}


def gate_agrees(rng: random.Random, order: list[int], checks: int = 200) -> int:
    """Run the real ValidationGate (sequential) on simulated proposals; the count deciding as simulated."""
    settings = Settings.model_validate({"training": {"accept": "significant", "alpha": ALPHA,
                                                     "validation_chunk": CHUNK, "validation_futility": FUTILITY}})  # fmt: skip
    tasks = [Task(id=str(i), inputs={"question": str(i)}, reference="") for i in range(N)]
    agree = 0
    for i in range(checks):
        p = task_probabilities(rng, N)
        head, cand = sample(rng, p), sample(rng, moved(p, (0.0, -0.05, 0.10)[i % 3]))
        verdict = validation_gate(_GivenScorer(head, cand), tasks, settings).check(_Candidate())
        accepted, used = sequential("significant", order, head, cand)
        agree += verdict.passed == accepted and verdict.details["tasks"] == used
    return agree


def main() -> None:
    rng = random.Random(20261203)
    t0 = time.perf_counter()
    order = validation_order(N, 0)
    print(
        f"{PROPOSALS} proposals per cell; {N} validation tasks; per-task p ~ Beta(0.5, 0.5); alpha = {ALPHA}"
    )
    print(f"sequential: chunks of {chunk_size(N, CHUNK)} tasks, futility below conditional power {FUTILITY}")
    cells = {kind: cell(rng, gain, order) for kind, (gain, _) in MIX.items()}
    summary: dict[str, dict[str, float]] = {}
    for rule in RULES:
        print(f"\nrule {rule}: {'kind':>7} {'full':>7} {'seq':>7} {'seq tasks':>10}")
        for kind, res in cells.items():
            r = res[rule]
            print(f"{'':>{len(rule) + 6}}{kind:>7} {r['full']:>7.3f} {r['seq']:>7.3f} {r['tasks']:>10.1f}")
        used = sum(cells[k][rule]["tasks"] * w for k, (_, w) in MIX.items())
        ratio = used / N
        print(
            f"  candidate rollouts per decision over the mix: full {N}, sequential {used:.1f} ({ratio:.3f} x full)"
        )
        summary[rule] = {
            "full_fa": cells["none"][rule]["full"],
            "seq_fa": cells["none"][rule]["seq"],
            "full_pw": cells["+10 pt"][rule]["full"],
            "seq_pw": cells["+10 pt"][rule]["seq"],
            "ratio": ratio,
        }
    agree = gate_agrees(rng, order)
    print(
        f"\nthe real ValidationGate (sequential) decided as simulated, on the same tasks, in {agree}/200 checks"
    )
    assert agree == 200
    print(f"{time.perf_counter() - t0:.1f}s")
    s = summary["significant"]
    print(
        f"RESULT val={N} full_false_accept={s['full_fa']:.3f} seq_false_accept={s['seq_fa']:.3f} "
        f"full_power_10pt={s['full_pw']:.3f} seq_power_10pt={s['seq_pw']:.3f} rollouts_ratio={s['ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
