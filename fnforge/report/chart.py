"""The learning curve: validation score per step, as a PNG the page embeds.

An image (matplotlib's Agg backend, no display needed) keeps the report one self-contained
file that any browser shows, with no script to run and nothing fetched from the network.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from fnforge.report.model import StepView  # noqa: E402

ACCEPTED = "#1a7f37"
REJECTED = "#cf222e"
ROLLBACK = "#9a6700"
HEAD = "#0969da"
TRAIN = "#8c959f"


def with_step_zero(steps: list[StepView], xs: list[int], ys: list[float]) -> tuple[list[int], list[float]]:
    """The head curve with a point at step 0: the starting set's score (the first step's before)."""
    if xs and xs[0] != 0:
        first = min(steps, key=lambda s: s.step)
        if first.score_before is not None and first.kind == "step":
            return [0, *xs], [first.score_before, *ys]
    return xs, ys


def head_curve(steps: list[StepView]) -> tuple[list[int], list[float]]:
    """The validation score of the set's branch after each step (a step function).

    Accepted steps move the head to their score; rejected ones leave it; a rollback moves it
    to its own recorded score, or back to the score before the step it undid.
    """
    xs: list[int] = []
    ys: list[float] = []
    head: float | None = None
    head_before: dict[int, float | None] = {}
    for s in sorted(steps, key=lambda s: s.step):
        if head is None:
            head = s.score_before
        head_before[s.step] = head
        if s.accepted:
            if s.score_after is not None:
                head = s.score_after
            elif s.kind == "rollback" and s.rolls_back in head_before:
                head = head_before[s.rolls_back]
        if head is not None:
            xs.append(s.step)
            ys.append(head)
    return xs, ys


def learning_curve_png(steps: list[StepView], title: str = "Validation score per step") -> bytes:
    """Render the learning curve: the head's score as a line, each candidate as a marker.

    Green dots are accepted steps, red crosses rejected candidates that reached validation,
    red triangles on the axis candidates rejected by an earlier gate (no score), and
    dashed amber lines rollbacks.
    """
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    try:
        xs, ys = head_curve(steps)
        xs, ys = with_step_zero(steps, xs, ys)
        size = 50 if len(steps) <= 60 else 12  # markers that do not blot out a long run
        if xs:
            ax.step(xs, ys, where="post", color=HEAD, linewidth=2, label="set's branch (head)")
        train = [(s.step, s.train_score) for s in steps if s.train_score is not None]
        if train:
            ax.plot(
                *zip(*train, strict=True), color=TRAIN, marker=".", linewidth=1, label="train batch (head)"
            )
        scored_acc = [
            (s.step, s.score_after)
            for s in steps
            if s.accepted and s.kind == "step" and s.score_after is not None
        ]
        scored_rej = [(s.step, s.score_after) for s in steps if not s.accepted and s.score_after is not None]
        unscored_rej = [s.step for s in steps if not s.accepted and s.score_after is None]
        if scored_acc:
            ax.scatter(*zip(*scored_acc, strict=True), color=ACCEPTED, s=size, zorder=3, label="accepted")
        if scored_rej:
            ax.scatter(
                *zip(*scored_rej, strict=True),
                color=REJECTED,
                marker="x",
                s=size,
                zorder=3,
                label="rejected at validation",
            )
        low = min([0.0, *ys, *(y for _, y in scored_acc + scored_rej)])
        if unscored_rej:
            ax.scatter(
                unscored_rej,
                [low] * len(unscored_rej),
                color=REJECTED,
                marker="v",
                s=size,
                zorder=3,
                clip_on=False,
                label="rejected by a gate (no score)",
            )
        for s in steps:
            if not s.accepted and s.score_after is None and s.gate and len(steps) <= 30:
                ax.annotate(
                    s.gate,
                    (s.step, low),
                    textcoords="offset points",
                    xytext=(0, 9),
                    ha="center",
                    fontsize=7,
                    color=REJECTED,
                )
        for i, s in enumerate(s for s in steps if s.kind == "rollback"):
            ax.axvline(
                s.step, color=ROLLBACK, linestyle="--", linewidth=1.2, label="rollback" if i == 0 else None
            )
        ax.set_xlabel("step")
        ax.set_ylabel("validation score")
        ax.set_title(title)
        if 0 < len(steps) <= 30:
            ax.set_xticks(sorted({s.step for s in steps} | set(xs[:1])))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if steps:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=5, fontsize=8, frameon=False)
        return png_of(fig)
    finally:
        plt.close(fig)


def png_of(fig: Any) -> bytes:
    """A finished matplotlib figure as PNG bytes (laid out tight), for embedding in the page."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
