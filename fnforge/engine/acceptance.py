"""When a candidate counts as better than the head: the acceptance rules, as pure functions.

Validation compares the head and a candidate on the same tasks. Two rules decide:

- `improves` (the seed paper's roll-back rule): accept when the candidate's accuracy beats the
  head's by more than `min_delta`. One task flipped by chance is enough, so with a sampled agent
  or a small validation set the head climbs by selection noise.
- `significant`: compare the two sets *paired*, task by task. Only the discordant tasks carry
  information: `fixed` (candidate right, head wrong) and `broken` (the reverse). Under "no
  change" each discordant task is a fair coin, so the exact one-sided McNemar test is a binomial
  tail: p = P(X >= fixed | X ~ Binomial(fixed + broken, 1/2)). Accept when p < `alpha` (and the
  accuracy also beats `min_delta`).

The functions here do no I/O, so the validation gate, the pre-check and the noise benchmark
(`benchmarks/acceptance_noise.py`) all run exactly the same decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Rule = Literal["improves", "significant"]
RULES: tuple[str, ...] = ("improves", "significant")


def mcnemar_p(fixed: int, broken: int) -> float:
    """The exact one-sided McNemar p-value that the candidate is better: P(X >= fixed), X ~ Bin(n, 1/2).

    n = fixed + broken discordant tasks; with no discordant task nothing is known and p is 1.
    """
    n = fixed + broken
    if n <= 0 or fixed <= 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(fixed, n + 1))
    return min(1.0, tail / 2**n)


def fixes_needed(alpha: float, broken: int = 0, limit: int = 100_000) -> int | None:
    """The fewest fixed tasks that make `significant` accept with `broken` broken ones (None past limit)."""
    for fixed in range(1, limit + 1):
        if mcnemar_p(fixed, broken) < alpha:
            return fixed
    return None


@dataclass(frozen=True)
class Decision:
    """One acceptance decision and everything a note needs to explain it."""

    accepted: bool
    rule: str
    before: float
    after: float
    fixed: int
    broken: int
    p: float | None = None
    alpha: float | None = None
    min_delta: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Plain data for the step's note and the verdict's details."""
        data: dict[str, object] = {
            "rule": self.rule,
            "accepted": self.accepted,
            "fixed": self.fixed,
            "broken": self.broken,
            "min_delta": self.min_delta,
        }
        if self.p is not None:
            data["p"] = round(self.p, 6)
            data["alpha"] = self.alpha
        return data

    def describe(self) -> str:
        """Why, in one phrase: the rule and its figures (the p-value under `significant`)."""
        if self.rule == "significant":
            return f"paired test: p = {self.p:.4g} ({'<' if self.accepted else '>='} alpha {self.alpha})"
        margin = f" + {self.min_delta}" if self.min_delta else ""
        return f"rule improves: {self.after:.3f} {'>' if self.accepted else '<='} {self.before:.3f}{margin}"


def decide(
    rule: str,
    *,
    before: float,
    after: float,
    fixed: int,
    broken: int,
    alpha: float = 0.05,
    min_delta: float = 0.0,
) -> Decision:
    """Whether a candidate with these paired counts and accuracies is accepted under `rule`."""
    improves = after > before + min_delta
    if rule == "improves":
        return Decision(improves, rule, before, after, fixed, broken, min_delta=min_delta)
    if rule == "significant":
        p = mcnemar_p(fixed, broken)
        return Decision(improves and p < alpha, rule, before, after, fixed, broken, p, alpha, min_delta)
    raise ValueError(f"unknown acceptance rule {rule!r}; use one of {', '.join(RULES)}")


def paired_counts(head: dict[str, float], candidate: dict[str, float]) -> tuple[int, int]:
    """(fixed, broken) over the tasks both scored: per-task scores in [0, 1] (a mean over repeats).

    A task is fixed when the candidate's score is higher than the head's, broken when lower;
    with one repeat this is exactly McNemar's discordant pairs.
    """
    fixed = broken = 0
    for task, h in head.items():
        c = candidate.get(task)
        if c is None:
            continue
        if c > h:
            fixed += 1
        elif c < h:
            broken += 1
    return fixed, broken
