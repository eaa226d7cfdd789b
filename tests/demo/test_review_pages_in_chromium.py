"""Reviewed steps in a browser: headless Chromium opens the report of a run whose candidates a
person approved and rejected, and the `fnforge review --html` page of candidates still waiting.

The repository is real git, built through fnforge.function_repo with the demo's own edits;
validation is a gate with fixed scores (as in conftest.py), so no sandbox is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from demo_helpers import ScoredValidation, chromium_page, demo_steps

from fnforge.function_repo import FunctionRepo, StaticGate
from fnforge.function_repo import review as rv
from fnforge.report import write_report

FNFORGE = str(Path(sys.executable).parent / "fnforge")
REVIEWER = "Rita Reviewer <rita@review.invalid>"


@pytest.fixture
def reviewed_repo(tmp_path, monkeypatch) -> Path:
    """Steps: 1 approved by Rita, 2 rejected by Rita, 3 accepted automatically, 4 still waiting."""
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Rita Reviewer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "rita@review.invalid")
    root = tmp_path / "agent-fns"
    steps = demo_steps()
    with FunctionRepo.init(root, task="tabmwp") as repo:
        rv.hold(repo, repo.propose(steps[0], run="rv"), [StaticGate(), ScoredValidation(0.0, 0.10)])
        rv.approve(repo, 1, message="reads well")
        rv.hold(repo, repo.propose(steps[1], run="rv"), [StaticGate(), ScoredValidation(0.10, 0.26)])
        rv.reject(repo, 2, "too clever; split it into two functions")
        repo.run_step(steps[1], [StaticGate(), ScoredValidation(0.10, 0.20)], run="rv")
        rv.hold(repo, repo.propose(steps[4], run="rv"), [StaticGate(), ScoredValidation(0.20, 0.30)])
    return root


def open_in_chromium(page_file: Path, profile: Path, script: str):
    with chromium_page(page_file, profile) as (page, requests):
        return page.evaluate(script), [u for u in requests if not u.startswith(("file:", "data:"))]


def test_the_report_marks_reviewed_steps_and_who_reviewed_them(reviewed_repo, tmp_path) -> None:
    page_file = write_report(reviewed_repo, tmp_path / "report.html")
    rows, fetched = open_in_chromium(
        page_file,
        tmp_path / "profile",
        "() => Array.from(document.querySelectorAll('#steps tbody tr')).map(r => [r.dataset.step,"
        " r.querySelector('td.decision').innerText, r.dataset.reviewedBy || null])",
    )
    assert rows == [
        ["1", f"accepted\nreviewed by {REVIEWER}", REVIEWER],
        ["2", f"rejected\nreviewed by {REVIEWER}", REVIEWER],
        ["3", "accepted", None],
    ]  # step 4 waits: it is not a decided step yet
    assert fetched == []


def test_review_html_shows_the_waiting_candidate_with_its_diff(reviewed_repo, tmp_path) -> None:
    out = tmp_path / "review.html"
    proc = subprocess.run([FNFORGE, "review", "--repo", str(reviewed_repo), "--html", str(out)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    shown, fetched = open_in_chromium(
        out,
        tmp_path / "profile",
        "() => Array.from(document.querySelectorAll('section.candidate')).map(s => ({step: s.dataset.step,"
        " actions: s.querySelector('.actions').innerText,"
        " gates: Array.from(s.querySelectorAll('.verdicts li')).map(li => li.className + ' ' + li.innerText),"
        " diffLines: s.querySelectorAll('.diff .hl .gi').length,"
        " diffShown: s.querySelector('.diff').open && s.querySelector('.diff .hl').getBoundingClientRect().height}))",
    )
    [candidate] = shown
    assert candidate["step"] == "4" and candidate["actions"] == ", ".join(
        rv.waiting(FunctionRepo.open(reviewed_repo))[0].actions
    )
    assert [g.split(":")[0] for g in candidate["gates"]] == ["pass static", "pass validation"]
    assert candidate["diffLines"] > 0 and candidate["diffShown"] > 50  # added lines highlighted, on screen
    assert fetched == []
