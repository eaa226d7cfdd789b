"""Sequential validation: score the candidate in chunks and stop as soon as the decision is known.

Full validation scores every candidate on every validation task, even when the first fifty
tasks already show that it is useless. The sequential rule walks the validation tasks in the
run's one seeded order (`validation_order.py`) in chunks and, after each chunk ("look"),
stops when one of these holds:

- **cannot be accepted** (deterministic curtailment): even if every remaining task were fixed,
  the rule could not accept (`improves`: the gain cannot exceed `min_delta`; `significant`:
  not even the fixed-sample McNemar test could reach p < alpha).
- **futility** (stochastic curtailment): the *predictive power* is below `futility`. With m of
  N tasks scored, a per-task gain estimate mu = g/m (g: the sum of candidate-minus-head task
  scores, fixed - broken for 0/1 scores) and variance s2 (at least 1/m), the final gain is
  projected as Normal(g + mu r, s2 r (1 + r/m)) over the r = N - m remaining tasks: the
  remaining tasks' noise plus the uncertainty of the trend itself (the flat-prior predictive
  distribution; the plain conditional power under the current trend, without the r/m term,
  stopped 15% of real +10-point edits at the first looks). Predictive power is the chance
  that the final gain clears what the rule needs at the end (`improves`: more than
  N * min_delta; `significant`: z_(1-alpha) * sqrt(d N / m), the fixed-sample test's need with
  d discordant tasks so far, and at least the fewest clean fixes that can ever be significant).
  This stop only ever rejects, so it costs power and never false acceptances;
  `benchmarks/sequential_validation.py` measures the power it costs.
- **accept bound**: the candidate crosses a group-sequential bound that keeps the overall
  false acceptance at or below `alpha`. Under "no change" every discordant task is a fair coin
  (McNemar), so given the discordant counts d_1 <= d_2 <= ... seen at the looks, the fixed
  counts are a simple random walk. An alpha-spending function (Lan-DeMets, O'Brien-Fleming
  type: alpha(t) = 2 - 2 Phi(z_(1 - alpha/2) / sqrt(t)), t = m/N the share of tasks scored)
  says how much false acceptance may have been spent by each look; at look j the bound c_j is
  the smallest fixed count for which the exact probability, computed on that random walk, of
  having crossed any bound so far is at most alpha(t_j). The looks fall at task counts fixed
  in advance (chunks), so the spending is valid whatever the counts; at the last look
  t = 1 and the whole alpha is spent. Early acceptance also needs the gain so far to beat
  `min_delta`. Under `improves` the same bound allows early acceptance (a stricter standard
  than the rule itself), and a candidate certain to be accepted whatever the remaining tasks
  do stops too (`certain`).
- **all tasks**: the last look decides with the rule itself (`improves`), or with the last
  bound (`significant`: the remaining alpha, so never more lenient than the full test).

Like `acceptance.py`, this module does no I/O: the validation gate feeds it the chunks it
scored and `benchmarks/sequential_validation.py` feeds it simulated ones, through the same
`SequentialTest`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist

from fnforge.engine.acceptance import RULES, Decision, fixes_needed, mcnemar_p

_NORMAL = NormalDist()

ACCEPT_BOUND = "accept bound"
CERTAIN = "certain"
CANNOT = "cannot be accepted"
FUTILITY = "futility"
ALL_TASKS = "all tasks"
MAX_LOOKS = 20  # a large validation set is cut into at most this many chunks


def spent_alpha(alpha: float, fraction: float) -> float:
    """O'Brien-Fleming-type spending: the false acceptance allowed once `fraction` of the tasks are scored.

    alpha(t) = 2 - 2 Phi(z_(1 - alpha/2) / sqrt(t)): almost nothing early, all of `alpha` at t = 1,
    so the last look is nearly as powerful as the fixed-sample test.
    """
    if fraction >= 1.0:
        return alpha
    if fraction <= 0.0:
        return 0.0
    z = _NORMAL.inv_cdf(1 - alpha / 2)
    return min(alpha, 2 - 2 * _NORMAL.cdf(z / math.sqrt(fraction)))


def chunk_size(total: int, chunk: int) -> int:
    """Tasks per look: `chunk`, or more when the set would need over MAX_LOOKS looks."""
    return max(1, chunk, math.ceil(total / MAX_LOOKS))


def predictive_power(gain: float, squares: float, tasks: int, total: int, need: float) -> float:
    """The predictive chance that the final gain exceeds `need` given the tasks so far (see the module doc).

    `gain` and `squares` are the sums of the per-task differences and of their squares over the
    `tasks` scored; the per-task variance is at least 1/tasks, so a look with no discordant
    task still leaves room for the tasks not yet scored.
    """
    rest = total - tasks
    if rest <= 0 or tasks <= 0:
        return 1.0 if gain > need else 0.0
    mean = gain / tasks
    var = max(squares / tasks - mean * mean, 1.0 / tasks)
    spread = var * rest * (1 + rest / tasks)  # the remaining tasks' noise plus the trend's own uncertainty
    return 1.0 - _NORMAL.cdf((need - gain - mean * rest) / math.sqrt(spread))


class NullWalk:
    """The exact distribution of fixed counts under "no change", kept across looks with their bounds.

    `prob[k]` is the probability that a path has k fixed tasks and crossed no bound yet; each
    newly discordant task is a fair coin. `bound()` spends alpha up to the look's fraction.
    """

    def __init__(self, alpha: float):
        self.alpha = alpha
        self.prob: list[float] = [1.0]

    def bound(self, discordant: int, fraction: float) -> int:
        """The fewest fixed tasks among `discordant` that accept at this look (discordant + 1: none can)."""
        for _ in range(len(self.prob) - 1, discordant):
            step = [0.0] * (len(self.prob) + 1)
            for k, p in enumerate(self.prob):
                step[k] += p / 2
                step[k + 1] += p / 2
            self.prob = step
        allowed = spent_alpha(self.alpha, fraction) - (1.0 - sum(self.prob))
        tail = 0.0
        bound = len(self.prob)
        for k in range(len(self.prob) - 1, -1, -1):
            if tail + self.prob[k] >= allowed:  # strictly below, as decide() asks p < alpha
                break
            tail += self.prob[k]
            bound = k
        for k in range(bound, len(self.prob)):
            self.prob[k] = 0.0
        return bound


@dataclass
class SequentialDecision:
    """How a sequential validation ended: the acceptance decision and how many tasks decided it."""

    decision: Decision
    tasks: int
    total: int
    looks: int
    stopped: str
    bound: int | None = None  # the fixed count the last look's accept bound asked for
    power: float | None = None  # the predictive power at the last look

    @property
    def accepted(self) -> bool:
        """Whether the candidate is accepted."""
        return self.decision.accepted

    def to_dict(self) -> dict[str, object]:
        """The acceptance figures plus a `sequential` part for the note and the verdict's details."""
        data = self.decision.to_dict()
        data["sequential"] = {
            "tasks": self.tasks,
            "of": self.total,
            "looks": self.looks,
            "stopped": self.stopped,
            "bound": self.bound,
            "predictive_power": None if self.power is None else round(self.power, 4),
        }
        return data

    def describe(self) -> str:
        """Why, in one phrase: how many tasks, why it stopped, the figures that decided."""
        d = self.decision
        where = f"sequential, {self.tasks} of {self.total} tasks"
        if self.stopped == ACCEPT_BOUND or (self.stopped == ALL_TASKS and d.rule == "significant"):
            op = ">=" if d.accepted else "<"
            return f"{where}: {self.stopped}, {d.fixed} fixed {op} bound {self.bound} of {d.fixed + d.broken} discordant"
        if self.stopped == FUTILITY:
            return f"{where}: futility, predictive power {self.power:.3f}"
        if self.stopped == CANNOT:
            return f"{where}: cannot be accepted even if every remaining task were fixed"
        return f"{where}: {self.stopped}; {d.describe()}"


@dataclass
class SequentialTest:
    """The state of one candidate's sequential validation; `observe` each scored chunk in order."""

    rule: str
    total: int
    alpha: float = 0.05
    min_delta: float = 0.0
    futility: float = 0.08
    tasks: int = 0
    fixed: int = 0
    broken: int = 0
    gain: float = 0.0
    squares: float = 0.0
    head_sum: float = 0.0
    cand_sum: float = 0.0
    looks: int = 0
    walk: NullWalk = field(init=False)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown acceptance rule {self.rule!r}; use one of {', '.join(RULES)}")
        self.walk = NullWalk(self.alpha)

    def observe(self, head: Mapping[str, float], cand: Mapping[str, float]) -> SequentialDecision | None:
        """Add one chunk's per-task scores (head and candidate, same tasks); a decision once known."""
        for task, h in head.items():
            c = cand.get(task)
            if c is None:
                continue
            self.tasks += 1
            self.head_sum += h
            self.cand_sum += c
            self.gain += c - h
            self.squares += (c - h) ** 2
            self.fixed += c > h
            self.broken += c < h
        self.looks += 1
        return self._look()

    def _decision(self, accepted: bool) -> Decision:
        m = max(1, self.tasks)
        p = mcnemar_p(self.fixed, self.broken) if self.rule == "significant" else None
        alpha = self.alpha if self.rule == "significant" else None
        before, after = self.head_sum / m, self.cand_sum / m
        return Decision(accepted, self.rule, before, after, self.fixed, self.broken, p, alpha, self.min_delta)

    def _stop(self, accepted: bool, why: str, bound: int | None, power: float | None) -> SequentialDecision:
        return SequentialDecision(
            self._decision(accepted), self.tasks, self.total, self.looks, why, bound, power
        )

    def _need(self) -> float:
        """The final gain the rule needs (the futility rule's target)."""
        margin = self.total * self.min_delta
        if self.rule == "improves":
            return margin
        d_final = (self.fixed + self.broken) * self.total / max(1, self.tasks)
        z = _NORMAL.inv_cdf(1 - self.alpha)
        return max(margin, z * math.sqrt(d_final), float(fixes_needed(self.alpha) or 1) - 0.5)

    def _look(self) -> SequentialDecision | None:
        rest = self.total - self.tasks
        fraction = min(1.0, self.tasks / max(1, self.total))
        margin = self.total * self.min_delta
        bound = self.walk.bound(self.fixed + self.broken, fraction)
        beats_margin = self.gain > self.tasks * self.min_delta
        if self.fixed >= bound and beats_margin and (rest > 0 or self.rule == "significant"):
            return self._stop(True, ACCEPT_BOUND if rest > 0 else ALL_TASKS, bound, None)
        if rest <= 0:
            accepted = self.gain > margin if self.rule == "improves" else False
            return self._stop(accepted, ALL_TASKS, bound, None)
        if self.gain + rest <= margin or (
            self.rule == "significant" and mcnemar_p(self.fixed + rest, self.broken) >= self.alpha
        ):
            return self._stop(False, CANNOT, bound, None)
        if self.rule == "improves" and self.gain - rest > margin:
            return self._stop(True, CERTAIN, bound, None)
        power = predictive_power(self.gain, self.squares, self.tasks, self.total, self._need())
        if power < self.futility:
            return self._stop(False, FUTILITY, bound, power)
        return None
