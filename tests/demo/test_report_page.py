"""`fnforge report`: one self-contained HTML file that shows the whole run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fnforge.report.chart import head_curve
from fnforge.report.model import StepView

FNFORGE = [str(Path(sys.executable).with_name("fnforge"))]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*FNFORGE, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_report_command_writes_one_file_with_every_step_diff_and_function(reported_repo, tmp_path):
    out = tmp_path / "out" / "report.html"
    proc = run_cli("report", "--repo", str(reported_repo), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout
    page = out.read_text(encoding="utf-8")
    # self-contained: the chart is inline, nothing is fetched
    assert re.search(r'<img id="learning-curve"[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', page)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    rows = re.findall(r'<tr class="(accepted|rejected|rollback)" data-step="(\d+)">', page)
    assert rows == [
        ("accepted", "1"),
        ("rejected", "2"),
        ("accepted", "3"),
        ("rejected", "4"),
        ("rollback", "5"),
    ]
    assert "does not parse" in page  # the static gate's reason for step 2
    assert "does not beat the head" in page  # validation's reason for step 4
    assert "rollback of step 3" in page
    row1 = page[page.index('data-step="1"') : page.index('data-step="2"')]
    assert "2,000" in row1 and "$0.0052" in row1  # tokens and cost summed from the step's note
    assert re.search(r">3\.[5-9] s<", row1)  # 1.5 s + 2.0 s of phases, plus the gates' time
    # every step has a highlighted diff block; step 3 added numbers_in
    for n in range(1, 6):
        assert f'id="step-{n}"' in page
    step3 = page[page.index('id="step-3"') : page.index('id="step-4"')]
    assert 'class="gi"' in step3 and "numbers_in" in step3  # pygments marks inserted lines
    # the final set after the rollback: only the seed's solve, with its derived schema
    assert 'id="fn-solve"' in page and 'id="fn-numbers_in"' not in page
    solve = page[page.index('id="fn-solve"') :]
    assert "tool schema" in solve and '"table"' in solve and '"choices"' in solve


def test_report_of_a_directory_that_is_not_a_repository_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("report", "--repo", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.html"))
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())  # rich may wrap the line to the terminal width
    assert message.startswith("error:") and "no such directory" in message and "fnforge init" in message
    assert "Traceback" not in proc.stderr and not (tmp_path / "r.html").exists()


def test_head_curve_holds_on_rejection_and_steps_back_on_rollback():
    steps = [
        StepView(1, "accepted", score_before=0.0, score_after=0.1),
        StepView(2, "rejected", gate="property"),
        StepView(3, "accepted", score_before=0.1, score_after=0.3),
        StepView(4, "rejected", gate="validation", score_before=0.3, score_after=0.2),
        StepView(5, "accepted", kind="rollback", rolls_back=3),
    ]
    assert head_curve(steps) == ([1, 2, 3, 4, 5], [0.1, 0.1, 0.3, 0.3, 0.1])


def test_a_repository_without_steps_still_gets_a_page_that_says_so(tmp_path):
    from fnforge.function_repo import FunctionRepo
    from fnforge.report import write_report

    FunctionRepo.init(tmp_path / "fresh", task="gsm8k").close()
    page = write_report(tmp_path / "fresh", tmp_path / "fresh.html").read_text(encoding="utf-8")
    assert "no steps yet" in page and "the set is empty" in page
    assert 'src="data:image/png;base64,' in page


def test_a_huge_diff_is_cut_with_the_git_command_that_shows_all_of_it():
    from fnforge.report.page import MAX_DIFF_CHARS, step_diff

    diff = "".join(f"+line {i}\n" for i in range(MAX_DIFF_CHARS // 5))
    block = step_diff(StepView(4, "accepted", commit="abcdef1234567", diff=diff))
    assert "diff cut at" in block and "git show abcdef1234" in block
    assert "+line 0<" in block and f"+line {MAX_DIFF_CHARS // 5 - 1}<" not in block


def test_note_figures_sum_every_phase_and_count_a_timed_gate_once():
    from fnforge.report.collect import note_cost, note_duration, note_tokens

    note = {
        "usage": {
            "train": {"tokens": 100, "cost_usd": 0.01},
            "optimizer": {"prompt_tokens": 40, "completion_tokens": 2, "cost_usd": 0.02},
            "validation": {"tokens": 300, "cost_usd": 0.03},
        },
        "durations_s": {"train": 1.0, "optimizer": 2.0, "validation": 4.0},
        "verdicts": [
            {"gate": "static", "duration_s": 0.25},
            {"gate": "property", "duration_s": 0.5},
            {"gate": "validation", "duration_s": 3.9},
        ],
    }
    assert note_tokens(note) == 442
    assert abs(note_cost(note) - 0.06) < 1e-9
    assert note_duration(note) == 7.75
    assert note_tokens({}) is None and note_cost({}) is None and note_duration({}) is None


def test_note_figures_read_a_gates_usage_from_its_verdict():
    """A gate's tokens and cost live in its verdict's details; a phase-copy in an older note counts once."""
    from fnforge.report.collect import note_cost, note_duration, note_tokens

    note = {
        "usage": {"train": {"tokens": 100, "cost_usd": 0.01}, "optimizer": {"tokens": 42, "cost_usd": 0.02}},
        "durations_s": {"train": 1.0, "optimizer": 2.0},
        "verdicts": [
            {"gate": "static", "duration_s": 0.25},
            {"gate": "precheck", "duration_s": 0.5, "details": {"usage": {"tokens": 50, "cost_usd": 0.005}}},
            {
                "gate": "validation",
                "duration_s": 4.0,
                "details": {"usage": {"tokens": 300, "cost_usd": 0.03}},
            },
        ],
    }
    assert note_tokens(note) == 492
    assert abs(note_cost(note) - 0.065) < 1e-9
    assert note_duration(note) == 7.75
    older = {**note, "usage": {**note["usage"], "validation": {"tokens": 300, "cost_usd": 0.03}}}
    assert note_tokens(older) == 492  # validation's usage copied among the phases: counted once


def test_the_report_draws_score_per_dollar_and_sets_the_estimate_beside_the_spend():
    from fnforge.report.spend import cumulative_spend, spend_html

    steps = [
        StepView(1, "accepted", score_before=0.2, score_after=0.5, cost_usd=0.25),
        StepView(2, "rejected", gate="precheck", cost_usd=0.05),
    ]
    unit, spent = cumulative_spend(steps)
    assert unit == "usd" and spent == {0: 0.0, 1: 0.25, 2: 0.30}
    notes = [
        {"usage": {"train": {"http_requests": 4, "prompt_tokens": 100, "completion_tokens": 20, "cost_usd": 0.01}},
         "verdicts": [{"gate": "validation", "details": {"usage": {"http_requests": 8, "cost_usd": 0.02}}}]},
    ]  # fmt: skip
    estimate = {"per_step": {"expected": {"validation": {"requests": 10, "usd": 0.03}}, "at_most": {}}}
    html_ = spend_html(steps, {"r1": estimate}, {"r1": notes})
    assert 'id="spend-chart"' in html_ and 'src="data:image/png;base64,' in html_
    assert 'id="estimate-table"' in html_ and "<td>validation</td><td>10</td>" in html_
    assert "$0.0200</td></tr>" in html_  # the validation gate's spend, read from its verdict
