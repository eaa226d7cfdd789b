"""`fnforge report` on the demo shows the analyses, in headless Chromium.

The real demo (TabMWP, Docker sandbox, scripted edits; its sealed test split scored at the end)
and the real `fnforge report` command; Chromium opens the page and reads what it shows: the
complexity chart beside the learning curve, the test score of the starting set and of the
final head with their 95% intervals, and the (empty) transfer section. The learning curve's
step-0 point and train-batch line are checked on the chart's data.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from demo_helpers import chromium_page

from fnforge.function_repo import FunctionRepo
from fnforge.report import collect
from fnforge.report.chart import head_curve, with_step_zero

FNFORGE = str(Path(sys.executable).with_name("fnforge"))


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo-analyses") / "demo-run"
    proc = subprocess.run([FNFORGE, "demo", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "test split, starting set: 0.000" in proc.stdout and "test split, final head: 0.690" in proc.stdout
    page = out.parent / "report.html"
    rep = subprocess.run(
        [FNFORGE, "report", "--repo", str(out), "--out", str(page)], capture_output=True, text=True
    )
    assert rep.returncode == 0, rep.stderr
    return out, page


def test_the_steps_record_complexity_and_the_curve_starts_at_step_zero(demo_report) -> None:
    root, _ = demo_report
    with FunctionRepo.open(root) as repo:
        first = repo.step(1)
        assert first.note["complexity"]["functions"] == 1 and first.note["complexity"]["loc"] > 0
        assert first.note["complexity"]["per_function"]["solve.solve"] >= 1
    data = collect(root)
    xs, ys = with_step_zero(data.steps, *head_curve(data.steps))
    assert (xs[0], ys[0]) == (0, 0.0) and xs[1] == 1
    assert [s.train_score for s in data.steps][:2] == [0.0, 0.0]
    points = data.analyses.complexity
    assert points[0].step == 0 and points[0].functions == 0 and points[-1].functions > points[1].functions


def test_chromium_shows_complexity_test_scores_and_transfer(demo_report, tmp_path) -> None:
    _, page_file = demo_report
    with chromium_page(page_file, tmp_path / "profile") as (page, _):
        charts = page.evaluate(
            "() => ['learning-curve', 'complexity-chart'].map(id => { const i = document.getElementById(id);"
            " return {complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,"
            " top: i.getBoundingClientRect().top}; })"
        )
        tests = page.evaluate(
            "() => Array.from(document.querySelectorAll('#test-scores tbody tr'))"
            ".map(r => Array.from(r.cells).map(c => c.innerText))"
        )
        facts = page.evaluate("() => document.getElementById('complexity-facts').innerText")
        transfer = page.evaluate("() => document.getElementById('transfer-none').innerText")
    curve, complexity = charts
    assert curve["complete"] and complexity["complete"] and complexity["w"] >= 600 and complexity["h"] >= 250
    assert curve["top"] < complexity["top"]  # right after the learning curve
    assert [row[0] for row in tests] == ["starting set (step 0)", "final head"]
    assert tests[0][2] == "0.000 95% interval [0.000, 0.037] (0/100)"
    assert tests[1][2] == "0.690 95% interval [0.594, 0.772] (69/100)"
    assert "functions" in facts and "lines of code" in facts and "cyclomatic" in facts
    assert "No transfer evaluation yet" in transfer
