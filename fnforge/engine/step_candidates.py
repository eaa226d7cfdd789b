"""A step with several candidates (`[training] candidates = k`): commit, gate and select, then judge one.

Each proposal is committed on its own branch `fnforge/<run>/step-<n>-c<i>` (all from the same
head, all numbered n) and run through the gates before validation (static, policy, property
tests, the pre-check on the batch's failures). `candidates.choose` picks the one that goes on:
its verdicts so far are replayed to the store as `KnownVerdict`s (nothing is gated twice) and
validation decides the step. The others are kept as rejected refs first (`keep_unchosen`),
while the head they were made from is still the branch's head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fnforge.engine.candidates import (
    KnownVerdict,
    combinable,
    label,
    passed,
    ranked,
    selection_note,
    why_not_chosen,
)
from fnforge.engine.step_notes import candidate_complexity


def judge_several(
    repo: Any,
    run: str,
    proposals: Sequence[Any],
    note: dict[str, Any],
    gates_for: Callable[[], tuple[list[Any], Any]],
    judge: Callable[[Any, list[Any], dict[str, Any]], Any],
    combine: bool = False,
    tries: int = 1,
) -> Any:
    """Gate every proposal, keep the unchosen, and judge the chosen one; the step's result.

    `gates_for()` gives this step's gates before validation and its validation gate; `judge`
    is the store's judge (or `hold` for human review) applied to the chosen candidate. With
    `combine`, the proposals worth combining make one more candidate (`candidates.combinable`);
    with `tries` > 1, a candidate validation rejects makes way for the next best (`_validate_in_turn`).
    """
    before, validation = gates_for()
    n = repo.next_step()
    gated, errors = _gate_each(repo, run, n, proposals, before)
    if not gated:
        return repo.record_rejection(run, "optimizer", "; ".join(errors) or "no actions", note)
    combined = _combined(repo, run, n, gated, before) if combine else None
    if combined is not None:
        gated.append(combined)
    chosen, validated = _validate_in_turn(gated, validation, tries)
    note["selection"] = {**selection_note(gated, chosen), "unusable": errors}
    if combined is not None:
        note["selection"]["combined"] = label(combined[0], len(gated) - 1)
    if validated:
        note["selection"]["validated"] = [label(gated[i][0], i) for i in validated]
    for i, (candidate, verdicts) in enumerate(gated):
        if i != chosen:
            why = why_not_chosen(gated, chosen, i)
            repo.keep_unchosen(
                candidate,
                verdicts,
                {**note, "selection": {"why": why, "chosen": note["selection"]["chosen"]}},
            )
    # what the unchosen cost (their pre-checks, their validations) is part of the step's spend
    note.setdefault("usage", {})["unchosen"] = _summed(
        (v.details or {}).get("usage") or {} for i, (_, vs) in enumerate(gated) if i != chosen for v in vs
    )
    winner, verdicts = gated[chosen]
    note["complexity"] = candidate_complexity(dict(winner.functions))
    gates = [KnownVerdict(v.gate, v) for v in verdicts]
    if passed(verdicts) and chosen not in validated:
        gates.append(validation)
    return judge(winner, gates, note)


def _gate_each(
    repo: Any, run: str, n: int, proposals: Sequence[Any], before: list[Any]
) -> tuple[list[tuple[Any, list[Any]]], list[str]]:
    """Each usable proposal committed as `c<i>` and run through the gates before validation; and
    what made the others unusable."""
    from fnforge.function_repo import ActionError, run_gates

    gated: list[tuple[Any, list[Any]]] = []
    errors = []
    for i, proposal in enumerate(proposals, 1):
        if proposal.actions is None:
            errors.append(f"c{i}: {proposal.error or 'no actions'}")
            continue
        try:
            candidate = repo.propose(proposal.actions, run, step=n, suffix=f"-c{i}")
        except ActionError as e:  # edits the store cannot apply are the optimizer's fault
            errors.append(f"c{i}: {e}")
            continue
        gated.append((candidate, run_gates(before, candidate)))
    return gated, errors


def _validate_in_turn(gated: list[tuple[Any, list[Any]]], validation: Any, tries: int) -> tuple[int, list[int]]:
    """(the candidate to judge, those validated here in turn), validating the best first.

    All but the last of `tries` candidates that passed so far are validated here, each verdict
    added to its candidate's; the first accepted is the one judged (its verdict known). Else
    the next best is judged with the validation gate as usual; with none passing, the first.
    """
    from fnforge.function_repo import run_gates

    order = ranked(gated)
    validated: list[int] = []
    for i in order[: max(0, min(tries, len(order)) - 1)]:
        candidate, verdicts = gated[i]
        verdict = run_gates([validation], candidate)
        gated[i] = (candidate, [*verdicts, *verdict])
        validated.append(i)
        if passed(verdict):
            return i, validated
    # the loop validated a prefix of `order`, so the next best is next; none passing: the first,
    # which the judge then rejects at its own failing gate
    return (order[len(validated)] if order else 0), validated


def _combined(repo: Any, run: str, n: int, gated: list[tuple[Any, list[Any]]], before: list[Any]) -> Any:
    """The proposals worth combining as one more gated candidate `c<i>+<j>`; None when fewer than two are.

    Their actions are committed together from the same head; a combination the store cannot
    apply (two edits that clash after all) is simply not made.
    """
    from fnforge.function_repo import ActionError, run_gates

    parts = combinable(gated)
    if not parts:
        return None
    suffix = "-c" + "+".join(label(gated[i][0], i)[1:] for i in parts)
    try:
        candidate = repo.propose([a for i in parts for a in gated[i][0].actions], run, step=n, suffix=suffix)
    except ActionError:
        return None
    return candidate, run_gates(before, candidate)


def _summed(parts: Any) -> dict[str, float]:
    """Usage dicts added up key by key (numbers only)."""
    out: dict[str, float] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
    return out
