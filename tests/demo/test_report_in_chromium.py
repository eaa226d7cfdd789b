"""The report really renders in a browser: headless Chromium (Debian's package) opens it,
takes a screenshot, and the chart image has loaded and the steps table has its rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

from demo_helpers import CHROMIUM, CHROMIUM_FLAGS, chromium_page

from fnforge.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_chromium_shows_the_chart_and_the_steps_table(reported_repo, tmp_path):
    page_file = write_report(reported_repo, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    with chromium_page(page_file, tmp_path / "chromium-profile") as (page, requests):
        chart = page.evaluate(
            "() => { const i = document.getElementById('learning-curve');"
            " return {complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,"
            " shown: i.getBoundingClientRect().width}; }"
        )
        rows = page.evaluate(
            "() => Array.from(document.querySelectorAll('#steps tbody tr'))"
            ".map(r => [r.dataset.step, r.querySelector('td.decision').innerText])"
        )
        decision_color = page.evaluate(
            "() => getComputedStyle(document.querySelector('tr.rejected td.decision')).color"
        )
        page.screenshot(path=str(shot), full_page=True)
    assert chart["complete"] and chart["w"] >= 600 and chart["h"] >= 250 and chart["shown"] > 300
    assert rows == [["1", "accepted"], ["2", "rejected"], ["3", "accepted"], ["4", "rejected"],
                    ["5", "rollback of step 3"]]  # fmt: skip
    assert decision_color == "rgb(207, 34, 46)"  # the page's own stylesheet applied
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []  # nothing fetched
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000


def test_chromium_dump_dom_of_the_report_has_the_table_and_chart(reported_repo, tmp_path):
    """The plain command line a user (or CI) can run: `chromium --headless=new --dump-dom`."""
    page_file = write_report(reported_repo, tmp_path / "report.html")
    proc = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         page_file.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert '<table id="steps">' in dom and dom.count('<tr class="') == 5
    assert 'id="learning-curve"' in dom and "data:image/png;base64," in dom
    assert Path(page_file).stat().st_size > 20_000
