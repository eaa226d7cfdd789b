"""Debian's Chromium, headless, for the tests that check pages in a real browser.

A module at the top of tests/ (like llm_server.py), so every part's tests can open a page:
the report and review files (file:// URLs) and `fnforge watch`'s live page (http://).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]  # fmt: skip


@contextmanager
def chromium_page(
    page: Path | str, profile: Path, viewport: tuple[int, int] = (1200, 1400)
) -> Iterator[tuple[Any, list[str]]]:
    """Chromium with a fresh profile showing `page` (a local file, or an http:// URL) once loaded.

    Yields the Playwright page and the list of every URL the page requested (to check that a
    self-contained page fetched nothing, or that a live page asked only its own server).
    """
    from playwright.sync_api import sync_playwright

    url = page if isinstance(page, str) else page.resolve().as_uri()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )  # fmt: skip
        try:
            tab = context.new_page()
            requests: list[str] = []
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(url, wait_until="load")
            yield tab, requests
        finally:
            context.close()
