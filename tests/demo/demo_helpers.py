"""Helpers shared by the demo, report and doctor tests (a uniquely named module, so that
test files can import it without colliding with another part's conftest)."""

from __future__ import annotations

import json
from pathlib import Path

from browser import CHROMIUM, CHROMIUM_FLAGS, chromium_page  # noqa: F401 - re-exported

from fnforge.protocol import Verdict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class ScoredValidation:
    """A validation gate with fixed scores: passes when `after` beats `before`."""

    name = "validation"

    def __init__(self, before: float, after: float):
        self.before, self.after = before, after

    def check(self, candidate) -> Verdict:
        kw = {"score_before": self.before, "score_after": self.after}
        if self.after > self.before:
            return Verdict.ok(self.name, f"val {self.before:.2f} -> {self.after:.2f}", **kw)
        return Verdict.fail(
            self.name, f"val {self.after:.2f} does not beat the head's {self.before:.2f}", **kw
        )


def demo_steps() -> list[list[dict]]:
    """The demo's reviewed scripted edits (a list of steps, each a list of actions)."""
    return json.loads((EXAMPLES / "demo_edits.json").read_text(encoding="utf-8"))
