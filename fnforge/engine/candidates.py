"""Several candidates a step: gate each proposal, validate only the best, keep the others.

With `[training] candidates = k` the optimizer writes k proposals for one step. Validation
is the expensive gate, so each proposal is first its own candidate through the cheap gates
(static, policy, property tests, the pre-check on the batch's failures); of those that pass,
the one whose pre-check fixes the most failed batch tasks goes on to validation, ties going to
the smaller change (fewer changed lines), then to the earlier proposal. The step's decision is
the chosen candidate's; the others are kept as rejected refs at gate `selection`
(`function_repo/selection.py`) with their verdicts, the pre-check's figures among them.

When no proposal passes, the step is rejected with the first proposal's failing verdict and
the rest are kept the same way, each at its own failing gate.

With `[training] combine = true` the proposals are not only rivals: the optimizer's k replies
are paid for, and when two or more of them each fix failed batch tasks while editing different
functions, using only one wastes the others. `combinable` picks those (best first, skipping any
that touches a function an earlier pick already edits); their actions together make one more
candidate, `c<i>+<j>`, gated like the rest. It goes to validation only when its own pre-check
fixes more than the best single proposal's (a tie goes to the smaller change, the single one).

With `[training] validate_candidates = m` a step whose chosen candidate validation rejects
validates the next best (`ranked`), up to m in all: the proposals are paid for already, and a
validation costs agent requests only. Each is its own test at `alpha`, as it would be in a step
of its own. The rejected ones are kept at gate `validation` with their verdicts.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fnforge.function_repo.selection import candidate_label
from fnforge.protocol import CandidateView, Verdict


@dataclass(frozen=True)
class KnownVerdict:
    """A gate whose verdict was reached during selection: the chosen candidate is not gated twice."""

    name: str
    verdict: Verdict

    def check(self, candidate: CandidateView) -> Verdict:
        """The verdict reached before."""
        return self.verdict


def changed_lines(base: Mapping[str, str], functions: Mapping[str, str]) -> int:
    """How many lines a candidate adds or removes across its modules (the size of its change)."""
    total = 0
    for name in set(base) | set(functions):
        a, b = (base.get(name) or "").splitlines(), (functions.get(name) or "").splitlines()
        if a == b:
            continue
        total += sum(
            1 for line in difflib.unified_diff(a, b, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        )  # fmt: skip
    return total


def precheck_fixes(verdicts: Sequence[Verdict]) -> int:
    """How many failed batch tasks the candidate's pre-check fixed (0 when it did not run)."""
    for v in verdicts:
        if v.gate == "precheck":
            return len((v.details or {}).get("fixed") or [])
    return 0


def passed(verdicts: Sequence[Verdict]) -> bool:
    """Whether every gate run so far passed."""
    return all(v.passed for v in verdicts)


def ranked(gated: Sequence[tuple[Any, list[Verdict]]]) -> list[int]:
    """The indices of the candidates that passed every gate so far, best first (see the module docstring)."""
    keys = [
        (-precheck_fixes(v), changed_lines(c.base_functions, c.functions), i)
        for i, (c, v) in enumerate(gated)
        if passed(v)
    ]
    return [i for *_, i in sorted(keys)]


def choose(gated: Sequence[tuple[Any, list[Verdict]]]) -> int:
    """The index of the candidate that goes to validation (see the module docstring).

    `gated` holds (candidate, verdicts of the gates before validation) in proposal order.
    """
    order = ranked(gated)
    return order[0] if order else 0


def touched(candidate: Any) -> set[str]:
    """The names of the functions a candidate's actions add, revise or remove."""
    return {a.name for a in candidate.actions}


def combinable(gated: Sequence[tuple[Any, list[Verdict]]]) -> list[int]:
    """The candidates worth combining, in proposal order (see the module docstring).

    Those that passed every gate so far and whose pre-check fixed at least one task, taken best
    first (most fixes, then the smaller change) and skipped when they touch a function an
    earlier pick touches. Fewer than two: nothing to combine.
    """
    picked: list[int] = []
    names: set[str] = set()
    for i in ranked(gated):
        mine = touched(gated[i][0])
        if precheck_fixes(gated[i][1]) > 0 and not mine & names:
            picked.append(i)
            names |= mine
    return sorted(picked) if len(picked) > 1 else []


def label(candidate: Any, index: int) -> str:
    """A candidate's name within its step: `c<i>` of its branch `.../step-<n>-c<i>`, else by position."""
    return candidate_label(str(getattr(candidate, "branch", ""))) or f"c{index + 1}"


def selection_note(gated: Sequence[tuple[Any, list[Verdict]]], chosen: int) -> dict[str, Any]:
    """What the step's note says about its candidates: each one's gate, fixes and size."""
    rows = []
    for i, (c, verdicts) in enumerate(gated):
        failed = next((v for v in verdicts if not v.passed), None)
        rows.append(
            {
                "candidate": label(c, i),
                "actions": [a.summary for a in c.actions],
                "gate": failed.gate if failed else None,
                "precheck_fixed": precheck_fixes(verdicts),
                "changed_lines": changed_lines(c.base_functions, c.functions),
                "chosen": i == chosen,
            }
        )
    return {"candidates": rows, "chosen": label(gated[chosen][0], chosen)}


def why_not_chosen(gated: Sequence[tuple[Any, list[Verdict]]], chosen: int, index: int) -> str:
    """The reason a passing candidate lost: the chosen one's pre-check and size beside its own."""
    mine, best = gated[index], gated[chosen]
    return (
        f"candidate {label(best[0], chosen)} was validated instead: its pre-check fixed {precheck_fixes(best[1])} "
        f"({changed_lines(best[0].base_functions, best[0].functions)} changed lines), this one "
        f"{precheck_fixes(mine[1])} ({changed_lines(mine[0].base_functions, mine[0].functions)} changed lines)"
    )
