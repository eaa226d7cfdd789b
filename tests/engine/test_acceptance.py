"""The acceptance rules as pure functions: McNemar's exact tail and the decisions it drives."""

from __future__ import annotations

import math

import pytest

from fnforge.engine.acceptance import decide, fixes_needed, mcnemar_p, paired_counts


def test_mcnemar_p_is_the_exact_binomial_tail() -> None:
    assert mcnemar_p(1, 0) == 0.5
    assert mcnemar_p(5, 0) == 1 / 32
    assert mcnemar_p(0, 3) == 1.0
    assert mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(8, 2) == pytest.approx(sum(math.comb(10, k) for k in range(8, 11)) / 1024)


def test_one_fix_is_enough_for_improves_and_not_for_significant() -> None:
    imp = decide("improves", before=0.5, after=0.51, fixed=1, broken=0)
    sig = decide("significant", before=0.5, after=0.51, fixed=1, broken=0, alpha=0.05)
    assert imp.accepted and not sig.accepted
    assert sig.p == 0.5 and "p = 0.5" in sig.describe()
    assert sig.to_dict()["fixed"] == 1 and sig.to_dict()["rule"] == "significant"


def test_significant_needs_five_clean_fixes_at_alpha_005() -> None:
    assert fixes_needed(0.05) == 5
    assert decide("significant", before=0.5, after=0.55, fixed=5, broken=0, alpha=0.05).accepted
    assert not decide("significant", before=0.5, after=0.54, fixed=4, broken=0, alpha=0.05).accepted


def test_paired_counts_compare_task_by_task_including_means_over_repeats() -> None:
    head = {"a": 1.0, "b": 0.0, "c": 0.5, "d": 1.0}
    cand = {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 1.0}
    assert paired_counts(head, cand) == (2, 1)


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown acceptance rule"):
        decide("vibes", before=0, after=1, fixed=1, broken=0)


class _Scorer:
    """Gives the gate fixed per-task verdicts for the head and the candidate."""

    def __init__(self, head: dict[str, bool], cand: dict[str, bool]):
        self.marks = {"head": head, "cand": cand}

    def score(self, functions, tasks, *, split):
        from fnforge.engine.evaluation import Evaluation
        from fnforge.evaluators.scoring import Score
        from fnforge.evaluators.task import ItemResult

        marks = self.marks[functions["set"]]
        items = [
            ItemResult(id=t, correct=c, extracted=None, reference="", score=float(c))
            for t, c in marks.items()
        ]
        return Evaluation(score=Score.from_results(items), set_hash=functions["set"])


class _Candidate:
    functions = {"set": "cand"}
    base_functions = {"set": "head"}


def test_the_gate_says_when_validation_is_too_small_for_significant_to_ever_accept() -> None:
    from fnforge.engine.validation import ValidationGate

    head = {"a": False, "b": False, "c": False}
    cand = {"a": True, "b": True, "c": True}
    verdict = ValidationGate(_Scorer(head, cand), list(head), rule="significant", alpha=0.05).check(
        _Candidate()
    )
    assert not verdict.passed
    assert verdict.reason.startswith(
        "improvement not significant: 0.000 -> 1.000 on 3 tasks (3 fixed, 0 broken)"
    )
    assert (
        "3 validation tasks are too few for the significant rule to ever accept at alpha 0.05"
        in verdict.reason
    )
    five = {k: False for k in "abcde"}
    ok = ValidationGate(_Scorer(five, dict.fromkeys(five, True)), list(five), rule="significant").check(
        _Candidate()
    )
    assert ok.passed and "p = 0.03125" in ok.reason
