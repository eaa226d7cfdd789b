"""`fnforge watch` follows a real training run: scripted models on loopback with latency, real git,
real Docker gates, the page in headless Chromium. The step count grows on the page without a
reload, each step within 2 s of being recorded, the step in flight shows its phase, and once the
run ends `/state.json` says what `fnforge log --json` says.

README's picture: `FNFORGE_SAVE_WATCH_SHOT=$PWD/docs/watch.png pytest tests/engine/test_watch_live_training.py`."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import gsm8k_world as world
import httpx2 as httpx
from browser import chromium_page
from llm_server import LLMServer
from watching import FNFORGE, LOG_FIELDS, watching

from fnforge.engine.run_state import PHASES
from fnforge.function_repo import FunctionRepo

SECRET = "sk-watch-test-never-stored"
PAGE_STATE = """() => ({
  rows: document.querySelectorAll('#steps tbody tr[data-step]').length,
  phase: document.getElementById('in-flight').dataset.phase || '',
  label: (document.querySelector('#in-flight .phase') || {}).textContent || '',
  text: document.getElementById('in-flight').textContent,
  marker: window.__notReloaded === true,
})"""


CHARTS_DRAWN = """() => Array.from(document.querySelectorAll('img.chart')).every(i => i.complete && i.naturalWidth > 0
  && i.getAttribute('src').endsWith('v=' + document.getElementById('run').dataset.version))"""


def make_repo(path: Path, records: list[dict], base_url: str) -> FunctionRepo:
    repo = FunctionRepo.init(
        path, config_text=world.config_text(base_url, extra_training='solved_batch = "ask"\n')
    )
    world.write_split(path / "data" / "train.jsonl", records[:8])
    world.write_split(path / "data" / "val.jsonl", records[8:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K training and validation slices")
    return repo


def log_json(root: Path) -> list[dict]:
    p = subprocess.run(
        [FNFORGE, "--json", "log", "--all", "--repo", str(root)], capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def follow(
    page, repo: FunctionRepo, trainer: subprocess.Popen, shot: Path | None
) -> tuple[list[dict], dict[int, float]]:
    """Poll the page (and, to time it, the repository) until the run ends and the page has caught up;
    given `shot`, screenshot it once, while a step is in flight after two were recorded."""
    seen, recorded_at, shown_at = [], {}, {}
    ended_at = None
    while True:
        now = time.monotonic()
        for r in repo.steps(include_rejected=True):
            recorded_at.setdefault(r.step, now)
        state = page.evaluate(PAGE_STATE)
        state["running"] = trainer.poll() is None
        seen.append(state)
        if shot and state["running"] and state["rows"] >= 2 and state["phase"] and not shot.exists():
            page.wait_for_function(CHARTS_DRAWN, timeout=10_000)
            page.screenshot(
                path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": 2100}
            )
        for n in range(1, state["rows"] + 1):
            shown_at.setdefault(n, now)
        if trainer.poll() is not None:
            ended_at = ended_at or now
            if (state["rows"] == len(recorded_at) and not state["phase"]) or now - ended_at > 10:
                break
        time.sleep(0.1)
    lags = {n: shown_at.get(n, float("inf")) - t for n, t in recorded_at.items()}
    return seen, lags


def test_the_live_page_follows_a_training_run(tmp_path: Path, datasets_dir: Path) -> None:
    records = world.pick_records(datasets_dir, 16)
    with LLMServer(world.GSM8KWorld(records), delay_s=0.4) as server:
        repo = make_repo(tmp_path / "fns", records, server.base_url)
        with (
            watching(repo.root) as url,
            chromium_page(url, tmp_path / "profile", (1280, 900)) as (page, requests),
        ):
            page.evaluate("() => { window.__notReloaded = true; }")
            env = {**os.environ, "FNFORGE_TEST_KEY": SECRET}
            trainer = subprocess.Popen([FNFORGE, "train", "--repo", str(repo.root), "--run", "r1"], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
            try:
                shot = (
                    Path(os.environ["FNFORGE_SAVE_WATCH_SHOT"])
                    if os.environ.get("FNFORGE_SAVE_WATCH_SHOT")
                    else None
                )
                seen, lags = follow(page, repo, trainer, shot)
            finally:
                out, err = trainer.communicate(timeout=600)
            state = httpx.get(url + "state.json").json()
    assert trainer.returncode == 0, err[-3000:]
    running = [s for s in seen if s["running"]]
    counts = [s["rows"] for s in running]
    assert len(set(counts)) >= 3 and counts == sorted(counts), counts  # grew step by step while it trained
    assert all(s["marker"] for s in seen), "the page was reloaded"
    assert max(lags.values()) <= 2.0, lags  # each step on the page within 2 s of being recorded
    phases = {s["phase"] for s in running if s["phase"]}
    assert {"train", "validation"} <= phases, phases
    assert all(s["label"] == PHASES[s["phase"]] for s in running if s["phase"])
    assert any("tasks" in s["text"] and "requests" in s["text"] for s in running)
    assert seen[-1]["phase"] == "" and "No step in flight" in seen[-1]["text"]
    assert state["in_flight"] is None
    logged = log_json(repo.root)
    assert len(logged) == len(state["steps"]) == seen[-1]["rows"] >= 4
    assert [{k: s[k] for k in LOG_FIELDS} for s in state["steps"]] == [
        {k: r[k] for k in LOG_FIELDS} for r in logged
    ]
    assert {u.split("/", 3)[2] for u in requests} == {url.split("/", 3)[2]}  # the page asked only watch
