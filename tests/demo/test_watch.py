"""`fnforge watch` on a finished run: read-only, loopback unless a token guards it, and the same
model as the report and `fnforge log --json`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx2 as httpx
from demo_helpers import ScoredValidation, chromium_page, demo_steps
from watching import FNFORGE, LOG_FIELDS, repository_state, watching

from fnforge.config import render_template
from fnforge.function_repo import FunctionRepo, StaticGate
from fnforge.function_repo import review as rv
from fnforge.report import write_report


def log_json(repo: Path) -> list[dict]:
    p = subprocess.run(
        [FNFORGE, "--json", "log", "--all", "--repo", str(repo)], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_state_json_lists_the_steps_fnforge_log_lists(reported_repo: Path) -> None:
    with watching(reported_repo) as url:
        state = httpx.get(url + "state.json").json()
    logged = log_json(reported_repo)
    assert [{k: s[k] for k in LOG_FIELDS} for s in state["steps"]] == [
        {k: r[k] for k in LOG_FIELDS} for r in logged
    ]
    assert [s["step"] for s in state["steps"]] == [1, 2, 3, 4, 5]
    assert state["in_flight"] is None and state["waiting"] == []
    assert state["steps"][0]["tokens"] == 2000 and abs(state["steps"][0]["cost_usd"] - 0.0052) < 1e-9
    assert state["summary"] == {"steps": 5, "accepted": 2, "rejected": 2, "rollbacks": 1, "waiting": 0,
                                "validation_score": 0.26}  # fmt: skip


def test_no_request_to_watch_writes_anything(reported_repo: Path) -> None:
    before = repository_state(reported_repo)
    with watching(reported_repo) as url:
        answers = [httpx.get(url).status_code, httpx.get(url + "state.json").status_code]
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for path in ("", "state.json", "steps/1"):
                answers.append(httpx.request(method, url + path, content=b"{}").status_code)
        answers.append(httpx.get(url + "approve?step=1").status_code)
    assert answers[:2] == [200, 200]
    assert set(answers[2:]) <= {404, 405}, answers
    assert repository_state(reported_repo) == before


def test_the_live_page_and_the_report_show_the_same_steps(reported_repo: Path, tmp_path: Path) -> None:
    report = write_report(reported_repo, tmp_path / "report.html").read_text()
    with watching(reported_repo) as url:
        live = httpx.get(url).text
    rows = lambda page: [line for line in page.splitlines() if line.startswith("<tr class=")]  # noqa: E731
    assert rows(live) == rows(report) and len(rows(live)) == 5
    poll = 'fetch("state.json"'
    assert poll in live and poll not in report  # the same page, plus the script that follows the run


def test_a_public_host_without_a_token_is_refused(reported_repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FNFORGE_SERVE_TOKEN"}
    p = subprocess.run([FNFORGE, "watch", "--repo", str(reported_repo), "--host", "0.0.0.0", "--port", "0"],
                       capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert p.returncode == 2, p.stdout + p.stderr
    flat = " ".join(p.stderr.split())
    assert (
        "can be reached from other machines" in flat
        and "FNFORGE_SERVE_TOKEN" in flat
        and "Traceback" not in flat
    )


def test_a_public_host_with_a_token_serves_only_requests_that_carry_it(reported_repo: Path) -> None:
    with watching(reported_repo, "--host", "0.0.0.0", env={"FNFORGE_SERVE_TOKEN": "s3cret-watch"}) as url:
        url = url.replace("0.0.0.0", "127.0.0.1")
        without = httpx.get(url + "state.json").status_code
        wrong = httpx.get(url + "state.json", headers={"Authorization": "Bearer nope"}).status_code
        right = httpx.get(url + "state.json", headers={"Authorization": "Bearer s3cret-watch"})
    assert (without, wrong, right.status_code) == (401, 401, 200) and len(right.json()["steps"]) == 5


def test_a_loopback_watch_refuses_a_foreign_host_name(reported_repo: Path) -> None:
    """A web page cannot read the state through a DNS name rebound to 127.0.0.1."""
    with watching(reported_repo) as url:
        foreign = httpx.get(url + "state.json", headers={"Host": "attacker.example"}).status_code
        local = httpx.get(url.replace("127.0.0.1", "localhost") + "state.json").status_code
    assert (foreign, local) == (400, 200)


def test_with_human_review_the_page_lists_the_candidates_waiting(tmp_path: Path) -> None:
    root = tmp_path / "agent-fns"
    steps = demo_steps()
    config = render_template("tabmwp").replace('review = "auto"', 'review = "human"')
    with FunctionRepo.init(root, task="tabmwp", config_text=config) as repo:
        repo.run_step(steps[0], [StaticGate(), ScoredValidation(0.0, 0.10)], run="rv")
        rv.hold(repo, repo.propose(steps[1], run="rv"), [StaticGate(), ScoredValidation(0.10, 0.26)])
    with watching(root) as url, chromium_page(url, tmp_path / "profile") as (page, _):
        state = httpx.get(url + "state.json").json()
        shown = page.evaluate(
            "() => Array.from(document.querySelectorAll('#waiting tbody tr')).map(r => r.innerText)"
        )
        summary = page.evaluate("() => document.querySelector('.summary .waiting').innerText")
    assert state["review"] == "human" and [w["step"] for w in state["waiting"]] == [2]
    assert state["waiting"][0]["score_after"] == 0.26 and state["waiting"][0]["branch"] == "fnforge/rv/step-2"
    assert len(shown) == 1 and "fnforge approve 2" in shown[0] and "0.100 → 0.260" in shown[0]
    assert summary == "1 waiting for review"
    assert [s["step"] for s in state["steps"]] == [1]  # a waiting candidate is not a decided step
