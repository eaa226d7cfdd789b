"""The ledger of spend: reserve the worst case, settle the real usage, never pass a limit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fnforge.engine.ledger import BudgetExhausted, Ledger, Limits, describe_spend, unpriced

PRICES = {"m": {"input": 1.0, "output": 2.0}}  # USD per million tokens


def test_a_request_whose_worst_case_does_not_fit_is_refused_before_it_is_sent() -> None:
    ledger = Ledger(Limits(tokens=1000), PRICES)
    r = ledger.reserve("m", 300, 500)
    ledger.settle(r, 300, 100)
    assert ledger.snapshot()["spent"]["tokens"] == 400
    with pytest.raises(BudgetExhausted) as e:
        ledger.reserve("m", 200, 500)  # 400 + 700 > 1000
    assert e.value.unit == "tokens" and e.value.spent == 400 and e.value.limit == 1000
    assert "spent 400 tokens of 1,000 tokens" in e.value.line()
    assert "fnforge train --resume --budget-tokens" in e.value.line()
    assert ledger.snapshot()["reserved"]["tokens"] == 0  # a refusal reserves nothing


def test_dollars_are_priced_per_million_tokens_and_n_choices_reserve_n_replies() -> None:
    ledger = Ledger(Limits(usd=0.01), PRICES)
    r = ledger.reserve("m", 1000, 1000, n=3)
    assert r.usd == pytest.approx((1000 * 1.0 + 3000 * 2.0) / 1e6)
    assert ledger.settle(r, 1000, 2500) == pytest.approx((1000 + 5000) / 1e6)
    assert ledger.snapshot()["left"]["usd"] == pytest.approx(0.01 - 0.006)


def test_a_failed_request_is_released_and_counts_nothing() -> None:
    ledger = Ledger(Limits(requests=1), PRICES)
    r = ledger.reserve("m", 10, 10)
    with pytest.raises(BudgetExhausted, match="requests"):
        ledger.reserve("m", 10, 10)  # the first is still in flight
    ledger.release(r)
    ledger.settle(ledger.reserve("m", 10, 10), 10, 5)
    assert ledger.snapshot()["spent"]["requests"] == 1


def test_many_threads_at_once_never_take_the_spend_past_the_limit() -> None:
    ledger = Ledger(Limits(tokens=10_000), PRICES)
    refused = []

    def worker() -> None:
        for _ in range(50):
            try:
                r = ledger.reserve("m", 40, 60)
            except BudgetExhausted:
                refused.append(1)
                continue
            ledger.settle(r, 40, 60)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = ledger.snapshot()
    assert snap["spent"]["tokens"] == 10_000 and snap["spent"]["requests"] == 100
    assert len(refused) == 300


def test_the_spend_of_a_run_survives_into_the_next_invocation(tmp_path: Path) -> None:
    path = tmp_path / "spend.json"
    first = Ledger(Limits(requests=3), PRICES, path)
    for _ in range(3):
        first.settle(first.reserve("m", 1, 1), 1, 1)
    again = Ledger(Limits(requests=3), PRICES, path)
    with pytest.raises(BudgetExhausted):
        again.reserve("m", 1, 1)
    more = Ledger(Limits(requests=5), PRICES, path)
    more.settle(more.reserve("m", 1, 1), 1, 1)
    assert more.snapshot()["spent"]["requests"] == 4
    assert describe_spend(more.snapshot()) == "spent 4 requests of 5 requests"


def test_models_without_both_prices_are_named() -> None:
    assert unpriced({"a": {"input": 1, "output": 2}, "b": {"input": 1}}, ["a", "b", "c", "a"]) == ["b", "c"]


def test_the_progress_line_of_a_step_says_what_was_spent_and_what_is_left() -> None:
    from fnforge.cli.train import _progress_text

    ledger = Ledger(Limits(usd=1.0, requests=10), PRICES)
    ledger.settle(ledger.reserve("m", 100_000, 1000), 100_000, 50_000)
    line = _progress_text(
        "decided",
        {
            "step": 3,
            "accepted": True,
            "gate": None,
            "reason": "ok",
            "duration_s": 1.0,
            "spend": ledger.snapshot(),
        },
    )
    assert line is not None
    assert "spent $0.2000 of $1.00, 1 requests of 10 requests; left $0.8000, 9 requests" in line
