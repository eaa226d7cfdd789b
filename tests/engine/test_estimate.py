"""The estimate of a run's cost, from the prompts as they would be built: no request sent."""

from __future__ import annotations

from pathlib import Path

from fnforge.config import Settings
from fnforge.engine.estimate import ROLES, estimate_run
from fnforge.evaluators import get_evaluator

DATA = Path(__file__).resolve().parents[1] / "data" / "gsm8k" / "train.jsonl"
PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}, "gpt-4o": {"input": 2.5, "output": 10.0}}
ADD = '''def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b
'''


def _estimate(**training):
    llm = {"prices": PRICES, "optimizer_temperature": 0.7}
    s = Settings.model_validate({"llm": llm, "training": {"max_steps": 10, **training}})
    ev = get_evaluator("gsm8k", DATA.parent)
    tasks = ev.load(DATA)
    return estimate_run(s, {"add": ADD}, ev, tasks[:30], tasks[30:])


def test_every_role_is_priced_and_the_worst_case_bounds_the_expected() -> None:
    est = _estimate()
    for role in ROLES:
        e, m = est.per_step["expected"][role], est.per_step["at_most"][role]
        assert 0 < e.requests <= m.requests and 0 < e.input_tokens <= m.input_tokens
        assert e.usd is not None and 0 < e.usd <= m.usd
    assert est.total("expected").requests >= 10 * est.total("expected", "step").requests
    assert "whole run (10 steps)" in est.render() and "optimizer" in est.render()


def test_sequential_validation_and_fewer_candidates_cost_less_than_full_and_more() -> None:
    seq, full = _estimate(), _estimate(validation="full")
    assert seq.per_step["expected"]["validation"].requests < full.per_step["expected"]["validation"].requests
    many = _estimate(candidates=3)
    assert many.per_step["at_most"]["pre-check"].requests == 3 * seq.per_step["at_most"]["pre-check"].requests
    assert many.per_step["expected"]["optimizer"].requests == 1  # one request with n = 3


def test_an_unpriced_model_leaves_dollars_unknown() -> None:
    s = Settings()
    ev = get_evaluator("gsm8k", DATA.parent)
    tasks = ev.load(DATA)
    est = estimate_run(s, {}, ev, tasks[:30], tasks[30:])
    assert est.total("expected").usd is None and "(no price)" in est.render()
    assert est.to_dict()["total"]["expected"]["requests"] > 0


def test_a_combination_is_pre_checked_too_and_each_further_validation_is_priced() -> None:
    one = _estimate(candidates=3)
    combined = _estimate(candidates=3, combine=True, validate_candidates=2)
    pre = "pre-check"
    assert combined.per_step["at_most"][pre].requests == 4 * one.per_step["at_most"][pre].requests // 3
    worst_one, worst_two = one.per_step["at_most"]["validation"], combined.per_step["at_most"]["validation"]
    assert worst_two.requests == worst_one.requests * 3 // 2  # two candidates and the head, against one and the head
    expected_one = one.per_step["expected"]["validation"].requests
    assert expected_one < combined.per_step["expected"]["validation"].requests < worst_two.requests
