"""The sequential validation rule as pure functions: its bounds, its stops and its error guarantee."""

from __future__ import annotations

import math
import random

import pytest

from fnforge.engine.acceptance import mcnemar_p
from fnforge.engine.sequential import (
    ACCEPT_BOUND,
    ALL_TASKS,
    CANNOT,
    CERTAIN,
    FUTILITY,
    NullWalk,
    SequentialTest,
    chunk_size,
    spent_alpha,
)


def _chunk(start: int, head: list[float], cand: list[float]) -> tuple[dict[str, float], dict[str, float]]:
    ids = [f"t{start + i}" for i in range(len(head))]
    return dict(zip(ids, head, strict=True)), dict(zip(ids, cand, strict=True))


def test_spending_is_nothing_at_the_start_and_all_of_alpha_at_the_end() -> None:
    assert spent_alpha(0.05, 0.0) == 0.0
    assert spent_alpha(0.05, 1.0) == 0.05
    early, mid = spent_alpha(0.05, 0.1), spent_alpha(0.05, 0.5)
    assert 0 < early < 1e-6 < mid < 0.05


def test_one_look_at_all_tasks_is_the_exact_fixed_sample_mcnemar_bound() -> None:
    walk = NullWalk(0.05)
    bound = walk.bound(20, 1.0)
    assert mcnemar_p(bound, 20 - bound) < 0.05 <= mcnemar_p(bound - 1, 21 - bound)


def test_the_exact_chance_of_ever_crossing_a_bound_under_no_change_is_at_most_alpha() -> None:
    # enumerate the fair-coin walk: 10 looks, 6 discordant tasks each
    walk = NullWalk(0.05)
    bounds = [walk.bound(6 * (j + 1), (j + 1) / 10) for j in range(10)]
    alive = {0: 1.0}
    crossed = 0.0
    for j, b in enumerate(bounds):
        step: dict[int, float] = {}
        for k, p in alive.items():
            for extra in range(7):
                step[k + extra] = step.get(k + extra, 0.0) + p * math.comb(6, extra) / 64
        crossed += sum(p for k, p in step.items() if k >= b)
        alive = {k: p for k, p in step.items() if k < b}
        assert crossed <= spent_alpha(0.05, (j + 1) / 10) + 1e-12
    assert 0.02 < crossed <= 0.05


def test_a_clearly_useless_candidate_stops_after_the_first_chunk() -> None:
    test = SequentialTest("significant", 500, alpha=0.05)
    head, cand = _chunk(0, [1.0] * 20 + [0.0] * 20, [0.0] * 20 + [0.0] * 20)
    found = test.observe(head, cand)
    assert found is not None and not found.accepted
    assert found.stopped in (CANNOT, FUTILITY) and found.tasks == 40
    assert found.to_dict()["sequential"]["of"] == 500


def test_a_candidate_that_cannot_reach_significance_even_with_every_remaining_fix_is_rejected() -> None:
    test = SequentialTest("significant", 50, alpha=0.05, futility=0.0)
    found = test.observe(*_chunk(0, [1.0] * 45, [0.0] * 45))
    assert found is not None and found.stopped == CANNOT and "cannot be accepted" in found.describe()


def test_a_strong_candidate_is_accepted_early_at_the_bound() -> None:
    test = SequentialTest("significant", 500, alpha=0.05)
    found = None
    start = 0
    while found is None:
        found = test.observe(*_chunk(start, [0.0] * 40, [1.0] * 30 + [0.0] * 10))
        start += 40
    assert found.accepted and found.stopped == ACCEPT_BOUND and found.tasks < 500
    assert found.bound is not None and found.decision.fixed >= found.bound


def test_the_last_look_decides_with_the_remaining_alpha() -> None:
    test = SequentialTest("significant", 40, alpha=0.05, futility=0.0)
    found = test.observe(*_chunk(0, [0.0] * 40, [1.0] * 6 + [0.0] * 34))
    assert found is not None and found.stopped == ALL_TASKS and found.accepted
    assert "bound" in found.describe()


def test_improves_stops_when_acceptance_is_certain_whatever_the_rest() -> None:
    test = SequentialTest("improves", 100, alpha=0.05)
    found = test.observe(*_chunk(0, [0.0] * 60, [1.0] * 45 + [0.0] * 15))
    assert found is not None and found.accepted and found.stopped in (CERTAIN, ACCEPT_BOUND)


def test_false_acceptance_of_no_change_stays_below_alpha_in_simulation() -> None:
    rng = random.Random(7)
    accepted = 0
    runs = 400
    for _ in range(runs):
        test = SequentialTest("significant", 200, alpha=0.05)
        found = None
        start = 0
        while found is None:
            p = [rng.random() for _ in range(40)]
            head = [float(rng.random() < x) for x in p]
            cand = [float(rng.random() < x) for x in p]
            found = test.observe(*_chunk(start, head, cand))
            start += 40
        accepted += found.accepted
    assert accepted / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)


def test_chunks_grow_so_a_large_set_needs_at_most_twenty_looks() -> None:
    assert chunk_size(500, 40) == 40
    assert chunk_size(100_000, 40) == 5000


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown acceptance rule"):
        SequentialTest("vibes", 10)
