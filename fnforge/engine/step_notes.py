"""What a trainer step writes about itself, and what the optimizer reads back about earlier steps.

Every trainer step's note opens the same way (where in the schedule, the batch, the head's
train score) and carries the candidate set's size and complexity, and, in the step that
learned it, a context window that a refusal stated (`window_note`); the gates' figures are not
here but in their verdicts, which the store puts in the same note. The optimizer sees earlier
steps as compact `StepSummary`s, the latest accepted ones with their function lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnforge.engine.optimizer import StepSummary
from fnforge.engine.run_records import INTERRUPTED


def optimizer_history(repo: Any, records: Sequence[Any], shown: int = 12) -> list[StepSummary]:
    """The earlier steps for the optimizer; the latest `shown` accepted ones with their function lists."""
    kept = [r for r in records if r.gate != INTERRUPTED]
    out = []
    for i, r in enumerate(kept):
        names = sorted(repo.functions(r.commit)) if r.accepted and i >= len(kept) - shown else None
        out.append(_summary(r, names))
    return out


def candidate_complexity(functions: dict[str, str]) -> dict[str, Any] | None:
    """The candidate set's size and cyclomatic complexity for the note (None if radon fails)."""
    from fnforge.function_repo.complexity import set_complexity

    try:
        return set_complexity(functions)
    except Exception:  # noqa: BLE001 - an analysis must never fail a step
        return None


def note_start(position: int, epoch: int, batch: Sequence[Any], train_eval: Any) -> dict[str, Any]:
    """What every trainer step's note opens with: where in the schedule, the batch, its score."""
    return {
        "made_by": "trainer",
        "position": position,
        "epoch": epoch,
        "batch": [str(t.id) for t in batch],
        "train": train_eval.summary(),
    }


def learned_windows(client: Any, llm: Any, noted: dict[str, int]) -> dict[str, dict[str, Any]]:
    """The context windows `client` learned from refusals and no note has said yet, each said once.

    `noted` (model -> tokens already in a note) is updated; the result is the note's
    `context_window` entry. `llm` is the `[llm]` settings.
    """
    learned: dict[str, dict[str, Any]] = {}
    for model, tokens in sorted(client.windows.items() if client is not None else []):
        if noted.get(model) != tokens:
            noted[model] = tokens
            learned[model] = window_note(llm, model, tokens)
    return learned


def restore_windows(client: Any, records: Sequence[Any]) -> dict[str, int]:
    """Teach `client` the windows that a run's recorded steps learned, so a resumed run fits its
    prompts as the first attempt did; returns what the notes have said (model -> tokens)."""
    if client is None:
        return {}
    for record in records:
        for model, info in ((record.note or {}).get("context_window") or {}).items():
            client.learn_window(model, int(info["tokens"]))
    return dict(client.windows)


def window_note(llm: Any, model: str, tokens: int) -> dict[str, Any]:
    """What a step's note says about a context window learned from a refusal: the window, what
    fnforge.toml assumed, and the setting that would have avoided the refusal (`llm`: `[llm]`)."""
    keys = [
        k
        for k, m in (("context_tokens", llm.model), ("optimizer_context_tokens", llm.optimizer_model))
        if m == model
    ]
    keys = keys or ["optimizer_context_tokens"]
    configured = min(getattr(llm, k) for k in keys)
    return {
        "tokens": tokens,
        "configured": configured,
        "setting": "[llm] " + " and ".join(f"{k} = {tokens}" for k in keys),
    }


def _summary(r: Any, functions: list[str] | None = None) -> StepSummary:
    return StepSummary(
        step=r.step,
        decision=r.decision,
        gate=r.gate,
        reason=r.reason,
        score_before=r.score_before,
        score_after=r.score_after,
        actions=list(r.actions),
        functions=functions,
    )
