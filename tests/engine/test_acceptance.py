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
