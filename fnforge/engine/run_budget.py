"""A run's budget and its estimate, opened where the run starts.

The ledger (`ledger.py`) is attached to the run's one model client, so every request the run
sends, agent and optimizer, is reserved and counted in one place; its spend is kept beside the
run's transcripts (`.git/fnforge/runs/<run>/spend.json`) so a resumed run goes on counting.
The estimate (`estimate.py`) is computed once when the run starts and kept beside it
(`estimate.json`), so the report can set it beside what the run spent.
"""

from __future__ import annotations

import json
from typing import Any

from fnforge.engine.ledger import Ledger, Limits
from fnforge.engine.transcripts import runs_dir


def open_ledger(exp: Any, run: str, limits: Limits) -> Ledger | None:
    """Attach the run's ledger to the experiment's model client (None when it has none)."""
    if exp.llm is None:
        return None
    ledger = Ledger(limits, exp.settings.llm.prices, runs_dir(exp.root) / run / "spend.json")
    exp.llm.ledger = ledger
    exp.ledger = ledger  # the live view (`run_observer.observe_run`) reads its snapshot here
    return ledger


def spend_fields(llm: Any) -> dict[str, Any]:
    """The ledger's snapshot for a progress event or the result ({} without a ledger)."""
    ledger = getattr(llm, "ledger", None)
    return ledger.snapshot() if ledger is not None else {}


def write_estimate(exp: Any, run: str) -> None:
    """Keep the estimate of the run's cost beside it, once (a resumed run keeps the first)."""
    from fnforge.engine.estimate import estimate_run

    path = runs_dir(exp.root) / run / "estimate.json"
    if path.exists():
        return
    try:
        est = estimate_run(
            exp.settings, dict(exp.repo.functions()), exp.evaluator, exp.train_tasks, exp.val_tasks
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(est.to_dict(), indent=1), encoding="utf-8")
    except Exception:  # noqa: BLE001 - an estimate must never stop a run
        pass
