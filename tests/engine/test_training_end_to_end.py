"""Training end to end on real GSM8K data: scripted models on loopback, real git, real Docker gates.

The scripted optimizer's plan (see gsm8k_world) makes one step of each kind: an edit that
improves validation and is merged, one that breaks a property, one that passes the gates
without improving, one whose code never parses; then patience ends the run. The tests
read the outcome back through plain git (log, trailers, notes, refs), as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer

from fnforge.engine.trainer import train
from fnforge.function_repo import FunctionRepo

SECRET = "sk-e2e-SECRET-never-stored-7f3a"
FNFORGE = str(Path(sys.executable).parent / "fnforge")
EXPECTED = [  # (step, decision, gate, actions)
    (1, "accepted", None, ["add calculate"]),
    (2, "rejected", "property", ["revise calculate"]),
    (3, "rejected", "validation", ["add describe_number"]),
    (4, "rejected", "optimizer", []),
]


@pytest.fixture(scope="module")
def records(datasets_dir: Path) -> list[dict]:
    return world.pick_records(datasets_dir, 16)


@pytest.fixture(scope="module")
def server(records):
    with LLMServer(world.GSM8KWorld(records)) as s:
        yield s


def make_repo(path: Path, records: list[dict], base_url: str, **config) -> FunctionRepo:
    """A fresh function repository with 8 training and 8 validation tasks committed.

    After step 1 the head solves every training batch; `solved_batch = "ask"` keeps asking the
    optimizer anyway, so that one run shows a rejection at each gate (test_solved_batch.py
    covers what the default does with a solved batch).
    """
    config.setdefault("extra_training", 'solved_batch = "ask"\n')
    repo = FunctionRepo.init(path, config_text=world.config_text(base_url, **config))
    world.write_split(path / "data" / "train.jsonl", records[:8])
    world.write_split(path / "data" / "val.jsonl", records[8:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K training and validation slices")
    return repo


def history(repo: FunctionRepo, run: str = "r1") -> list[tuple]:
    """Decisions and function trees of a run: what an identical rerun must reproduce."""
    out = []
    for r in repo.steps(include_rejected=True):
        if r.run != run or r.gate == "interrupted":
            continue
        tree = repo.git.run("rev-parse", f"{r.commit}:functions")  # fnforge.toml differs by server port
        out.append(
            (r.step, r.decision, r.gate, r.reason, r.score_before, r.score_after, tuple(r.actions), tree)
        )
    return out


def sandbox_failures(repo: FunctionRepo) -> list[str]:
    """Tool calls that failed in the sandbox during a run (to explain an unexpected score)."""
    out = []
    for path in sorted((repo.root / ".git" / "fnforge" / "runs").glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            tr = json.loads(line)
            for ev in tr["events"]:
                if ev["kind"] == "tool_result" and not ev["ok"]:
                    out.append(f"{path.name} {tr['split']} task {tr['task_id']}: {ev['content'][:300]}")
    return out


def same_history(repo: FunctionRepo, ref_repo: FunctionRepo) -> None:
    got, want = history(repo), history(ref_repo)
    assert got == want, (
        f"sandbox failures: {sandbox_failures(repo)} / reference: {sandbox_failures(ref_repo)}"
    )


def cli(*args: str, env_extra: dict | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, "FNFORGE_TEST_KEY": SECRET, **(env_extra or {})}
    return subprocess.Popen(
        [FNFORGE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory, records, server, docker_pool):
    """One uninterrupted training run, in process, shared by the tests below."""
    os.environ["FNFORGE_TEST_KEY"] = SECRET
    root = tmp_path_factory.mktemp("reference") / "fns"
    repo = make_repo(root, records, server.base_url)
    before = server.count
    events: list[tuple[str, dict]] = []
    result = train(repo, run="r1", pool=docker_pool, progress=lambda e, **kw: events.append((e, kw)))
    return repo, result, server.count - before, events


def test_a_run_merges_the_improving_edit_and_rejects_the_others_at_the_right_gate(reference) -> None:
    repo, result, _, events = reference
    got = [(s.step, "accepted" if s.accepted else "rejected", s.gate, s.actions) for s in result.steps]
    assert got == EXPECTED, sandbox_failures(repo)
    assert result.stopped == "early stop: 3 steps without improvement (patience 3)"
    s1, s2, s3, s4 = result.steps
    assert (s1.score_before, s1.score_after) == (0.0, 1.0) and s1.train_score == 0.0
    assert s1.reason == (
        "validation improved 0.000 -> 1.000 on 8 tasks (8 fixed, 0 broken); paired test: p = 0.003906 (< alpha 0.05)"
    )
    assert s2.reason.startswith("calculate: property 'returns float' failed on calculate(expression=")
    assert "of type str" in s2.reason
    assert s3.reason == (
        "no improvement: 1.000 -> 1.000 on 8 tasks (0 fixed, 0 broken); paired test: p = 1 (>= alpha 0.05)"
    )
    assert s4.reason.startswith(
        "malformed optimizer output after 2 attempts: edit 1 (add broken): the code does not parse"
    )
    assert repo.functions() == {"calculate": world.CALCULATE}
    assert [e for e, _ in events].count("decided") == 4 and events[-1][0] == "stopped"


def test_git_history_trailers_and_notes_tell_the_same_story(reference) -> None:
    repo, _, _, _ = reference
    git = repo.git
    first_parent = git.run("log", "--first-parent", "--format=%s", "main").splitlines()
    assert first_parent[0] == "Step 1: add calculate"
    merge = git.run("rev-parse", "main")
    trailers = git.run("log", "-1", "--format=%(trailers:only,unfold)", merge)
    assert "Fnforge-Decision: accepted: validation improved 0.000 -> 1.000" in trailers
    assert "Fnforge-Score: 0.0 -> 1.0" in trailers and "Fnforge-Action: add calculate" in trailers
    note = json.loads(git.run("notes", "--ref", "fnforge", "show", merge))
    assert note["train"]["accuracy"] == 0.0 and note["train"]["n"] == 4
    assert note["usage"]["train"]["tokens"] > 0 and note["usage"]["optimizer"]["cost_usd"] > 0
    assert note["durations_s"]["train"] >= 0 and note["transcripts"] == ".git/fnforge/runs/r1/step-1.jsonl"
    val = [v for v in note["verdicts"] if v["gate"] == "validation"][0]
    assert val["details"]["usage"]["tokens"] > 0 and val["duration_s"] > 0
    assert len(val["details"]["flipped"]["fixed"]) == 8 and val["details"]["flipped"]["broken"] == []
    # a gate's figures live once, in its verdict: the note's own keys are the trainer's phases
    assert "flipped" not in note and "acceptance" not in note and set(note["usage"]) == {"train", "optimizer"}
    assert [v["gate"] for v in note["verdicts"]] == ["static", "policy", "property", "precheck", "validation"]

    rejected = {n: f"refs/fnforge/rejected/r1/step-{n}" for n in (2, 3, 4)}
    decisions = {
        n: git.run("log", "-1", "--format=%(trailers:key=Fnforge-Decision,valueonly)", ref).strip()
        for n, ref in rejected.items()
    }
    assert decisions[2].startswith("rejected: property: calculate: property 'returns float' failed")
    assert decisions[3].startswith("rejected: validation: no improvement")
    assert decisions[4].startswith("rejected: optimizer: malformed optimizer output")
    prop = json.loads(git.run("notes", "--ref", "fnforge", "show", rejected[2]))
    assert [v["gate"] for v in prop["verdicts"]] == ["static", "policy", "property"]  # validation never ran
    assert prop["verdicts"][-1]["details"]["failures"][0]["falsifying_example"].startswith("calculate(")
    opt = json.loads(git.run("notes", "--ref", "fnforge", "show", rejected[4]))
    assert opt["optimizer"]["attempts"] == 2 and "does not parse" in opt["optimizer"]["errors"][0]


def test_transcripts_cache_and_the_head_score_reuse(reference) -> None:
    repo, _, requests, _ = reference
    runs = repo.root / ".git" / "fnforge" / "runs" / "r1"
    lines = {
        n: [json.loads(x) for x in (runs / f"step-{n}.jsonl").read_text().splitlines()] for n in (1, 2, 3, 4)
    }
    splits = {n: sorted({x["split"] for x in ls}) for n, ls in lines.items()}
    assert splits[1] == ["precheck", "train", "val-candidate", "val-head"]
    assert splits[2] == ["train"]  # rejected at the property gate: validation never ran
    assert splits[3] == ["train", "val-candidate"]  # the head's score came from the cache
    call = next(e for x in lines[3] for e in x["events"] if e["kind"] == "tool_call")
    assert call["name"] == "calculate" and "expression" in call["arguments"]
    cache = repo.root / ".git" / "fnforge" / "cache"
    assert len(list(cache.glob("*/*.json"))) == requests
    status = repo.git.run("status", "--porcelain", "--ignored")
    assert "fnforge" not in status  # transcripts and cache live in .git, out of the tree
    for path in repo.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the API key leaked into {path}"


def test_eval_scores_any_step_of_the_set(reference) -> None:
    repo, _, _, _ = reference
    out = subprocess.run(
        [FNFORGE, "--json", "eval", "--repo", str(repo.root), "--ref", "1", "--split", "val"],
        capture_output=True,
        text=True,
        env={**os.environ, "FNFORGE_TEST_KEY": SECRET},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["accuracy"] == 1.0
    out0 = subprocess.run(
        [FNFORGE, "--json", "eval", "--repo", str(repo.root), "--ref", "0", "--split", "val", "--offline"],
        capture_output=True,
        text=True,
    )
    assert out0.returncode == 0, out0.stderr
    assert json.loads(out0.stdout.strip().splitlines()[-1])["accuracy"] == 0.0


def test_sigkill_mid_step_then_resume_reaches_the_same_history(tmp_path, records, reference) -> None:
    ref_repo = reference[0]
    fired = threading.Event()

    def hold_step_3_validation(body: dict) -> None:
        names = [t["function"]["name"] for t in body.get("tools") or []]
        if "describe_number" in names and not fired.is_set():
            fired.set()
            time.sleep(1.0)  # the trainer is now in the middle of gating step 3

    with LLMServer(world.GSM8KWorld(records), on_request=hold_step_3_validation) as srv:
        repo = make_repo(tmp_path / "fns", records, srv.base_url)
        child = cli("train", "--repo", str(repo.root), "--run", "r1")
        assert fired.wait(120), child.communicate()
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert [b for b in repo.candidate_branches()] != []  # a half-gated candidate was left behind
        assert [r.step for r in repo.steps(include_rejected=True)] == [1, 2]
        resumed = cli("train", "--repo", str(repo.root), "--resume")
        out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "removed half-made candidate fnforge/r1/step-3" in out
    same_history(repo, ref_repo)
    assert repo.candidate_branches() == []
    fsck = subprocess.run(
        ["git", "-C", str(repo.root), "fsck", "--no-progress"], capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr


def test_offline_replay_asks_nothing_and_decides_the_same(tmp_path, records, reference, server) -> None:
    ref_repo = reference[0]
    repo = make_repo(tmp_path / "replay", records, server.base_url)
    shutil.copytree(ref_repo.root / ".git" / "fnforge" / "cache", repo.root / ".git" / "fnforge" / "cache")
    before = server.count
    child = cli("train", "--repo", str(repo.root), "--run", "r1", "--offline")
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err
    assert server.count == before, "offline replay sent HTTP requests"
    same_history(repo, ref_repo)
    assert "0 model requests" in out


def test_offline_on_the_finished_run_replays_it_in_a_scratch_clone(reference, server) -> None:
    repo = reference[0]
    head, steps = repo.head(), repo.steps(include_rejected=True)
    before = server.count
    child = cli("train", "--repo", str(repo.root), "--offline")
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err + out
    assert "replayed 4 steps of run r1 from the cache: the same decisions" in out
    assert "0 model requests" in out
    assert server.count == before
    assert repo.head() == head and repo.steps(include_rejected=True) == steps  # untouched


def test_offline_without_a_cache_is_one_clear_error_and_records_nothing(tmp_path, records, server) -> None:
    repo = make_repo(tmp_path / "empty", records, server.base_url)
    before = server.count
    child = cli("train", "--repo", str(repo.root), "--offline")
    out, err = child.communicate(timeout=120)
    assert child.returncode == 2
    assert "offline: no cached reply for a request to agent-model" in err and "Traceback" not in err
    assert server.count == before
    assert repo.steps(include_rejected=True) == [] and repo.candidate_branches() == []


def test_ctrl_c_records_the_step_as_interrupted_removes_containers_and_releases_the_lock(
    tmp_path, records, reference
) -> None:
    import docker

    ref_repo = reference[0]
    fired = threading.Event()

    def hold_first_optimizer_call(body: dict) -> None:
        if body.get("model") == world.OPTIMIZER_MODEL and not fired.is_set():
            fired.set()
            time.sleep(1.0)

    with LLMServer(world.GSM8KWorld(records), on_request=hold_first_optimizer_call) as srv:
        repo = make_repo(tmp_path / "fns", records, srv.base_url)
        child = cli("train", "--repo", str(repo.root), "--run", "r1")
        assert fired.wait(120), child.communicate()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 130, err
        [rec] = repo.steps(include_rejected=True)
        assert (rec.step, rec.gate, rec.decision) == (1, "interrupted", "rejected")
        client = docker.from_env()
        mine = [
            c
            for c in client.containers.list(all=True, filters={"label": "fnforge.sandbox=1"})
            if f":{child.pid}:" in c.labels.get("fnforge.owner", "")
        ]
        assert mine == [], "the interrupted run left sandbox containers behind"
        with repo.lock():  # released
            pass
        resumed = cli("train", "--repo", str(repo.root), "--resume")
        rout, rerr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, rerr
    # the interrupted step keeps its number; the redone steps follow it with the same decisions
    got = [(d, g, a, t) for (_, d, g, _, _, _, a, t) in history(repo)]
    want = [(d, g, a, t) for (_, d, g, _, _, _, a, t) in history(ref_repo)]
    assert got == want, (
        f"sandbox failures: {sandbox_failures(repo)} / reference: {sandbox_failures(ref_repo)}"
    )


def test_react_mode_trains_to_the_same_decisions(tmp_path, records, server, docker_pool) -> None:
    repo = make_repo(tmp_path / "react", records, server.base_url, mode="react")
    result = train(repo, run="r1", pool=docker_pool)
    got = [(s.step, "accepted" if s.accepted else "rejected", s.gate, s.actions) for s in result.steps]
    assert got == EXPECTED, sandbox_failures(repo)
    line = json.loads((repo.root / ".git/fnforge/runs/r1/step-3.jsonl").read_text().splitlines()[0])
    assert line["mode"] == "react" and any(e["kind"] == "tool_call" for e in line["events"])
    agent_requests = server.requests_for(world.AGENT_MODEL)
    assert any(r.get("stop") == ["\nObservation:"] and "tools" not in r for r in agent_requests)
