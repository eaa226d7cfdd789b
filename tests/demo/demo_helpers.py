"""Helpers shared by the demo, report and doctor tests (a uniquely named module, so that
test files can import it without colliding with another part's conftest)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fnforge.protocol import Verdict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]  # fmt: skip


@contextmanager
def chromium_page(page_file: Path, profile: Path) -> Iterator[tuple[Any, list[str]]]:
    """Debian's Chromium, headless with a fresh profile, showing a local page once it has loaded.

    Yields the Playwright page and the list of every URL the page requested (to check that a
    self-contained page fetched nothing).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1200, "height": 1400},
        )  # fmt: skip
        try:
            page = context.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            yield page, requests
        finally:
            context.close()


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
