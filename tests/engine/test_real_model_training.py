"""Training against a model that behaves like a real one: cut replies, refusals, context limits, 429s.

The server (tests/real_model.py in front of tests/engine/real_world.py) is reached by the real
`openai` client through the real CLI; git, the sandbox and the gates are real. The run must
end normally with every step recorded with its gate and reason, its offline replay must ask
nothing and decide the same, and SIGKILLs of the whole process group at random moments, each
followed by `--resume`, must end with the same decisions, no step recorded twice and a clean
repository.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import gsm8k_world as base
import pytest
import real_world as world
from llm_server import LLMServer

from fnforge.function_repo import FunctionRepo

FNFORGE = str(Path(sys.executable).parent / "fnforge")
ENV = {**os.environ, "FNFORGE_TEST_KEY": "sk-real-model-test"}
EXPECTED = [  # (decision, gates allowed, reason prefix)
    ("accepted", {None}, "validation improved 0.000 -> 0.625"),
    # a tuple parameter: the provider refuses its schema (validation), or fnforge's static gate does
    ("rejected", {"validation", "static"}, ""),
    ("rejected", {"optimizer"}, "no edit proposed"),
    ("rejected", {"optimizer"}, f"reply cut at {world.OPTIMIZER_MAX_TOKENS} tokens"),
    ("rejected", {"validation"}, "no improvement: 0.625 -> 0.625"),
    ("rejected", {"optimizer"}, "malformed optimizer output after 2 attempts"),
    ("rejected", {"property"}, "calculate: property 'returns float' failed"),
    ("rejected", {"optimizer"}, "no edit proposed"),
]


@pytest.fixture(scope="module")
def records(datasets_dir: Path) -> list[dict]:
    return base.pick_records(datasets_dir, 16)


@pytest.fixture(scope="module")
def model(records):
    return world.make_model(records)


@pytest.fixture(scope="module")
def server(model):
    with LLMServer(model) as s:
        yield s


def fnforge(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [FNFORGE, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw
    )


def decisions(repo: FunctionRepo, run: str = "r1") -> list[tuple]:
    """What a rerun must reproduce: step, decision, gate, reason, actions, function tree."""
    out = []
    for r in repo.steps(include_rejected=True):
        if r.run == run:
            tree = repo.git.run("rev-parse", f"{r.commit}:functions", check=False)
            out.append((r.step, r.decision, r.gate, r.reason, tuple(r.actions), tree))
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory, records, server, model):
    """One uninterrupted run through the CLI."""
    repo = world.make_repo(tmp_path_factory.mktemp("real") / "fns", records, server.base_url)
    before, refusals = server.count, len(model.refusals)
    t0 = time.perf_counter()
    child = fnforge("train", "--repo", str(repo.root), "--run", "r1")
    out, _ = child.communicate(timeout=600)
    return (
        repo,
        child.returncode,
        out,
        server.count - before,
        model.refusals[refusals:],
        time.perf_counter() - t0,
    )


def test_a_run_against_a_realistic_model_ends_normally_with_every_step_recorded(reference) -> None:
    repo, code, out, requests, refusals, _ = reference
    assert code == 0, out
    assert "stopped: early stop: 7 steps without improvement" in out
    got = decisions(repo)
    assert [s for s, *_ in got] == list(range(1, len(EXPECTED) + 1)), out
    for (step, decision, gate, reason, _, _), (want, gates, prefix) in zip(got, EXPECTED, strict=True):
        assert decision == want and gate in gates and reason.startswith(prefix), (step, gate, reason)
        assert reason and (decision == "accepted" or gate), (step, gate, reason)
    assert len(repo.functions()["calculate"]) > 6000  # the merged module is a large one
    assert repo.functions()["calculate"] == world.BIG_CALCULATE
    assert "rate limited, waiting 1 s" in out  # the 429s were waited out and said so
    assert "context" in refusals  # the optimizer's window was smaller than configured
    assert "the optimizer proposes no edit this step" in out


def test_the_optimizer_asks_within_its_limits_and_never_grows_the_conversation(reference, server) -> None:
    opt = server.requests_for(world.OPTIMIZER_MODEL)
    assert opt and all(r["max_tokens"] == world.OPTIMIZER_MAX_TOKENS for r in opt)
    assert max(len(r["messages"]) for r in opt) == 2  # the prompt and at most one re-ask message
    cut_retry = [r for r in opt if len(r["messages"]) == 2 and "cut off" in r["messages"][1]["content"]]
    assert cut_retry and all(r["temperature"] > 0 for r in cut_retry)  # re-asks sample hotter
    assert "fewer or shorter edits" in cut_retry[0]["messages"][1]["content"]
    # after a context-length refusal the same step asked again with a smaller prompt
    sizes = [len(r["messages"][0]["content"]) for r in opt]
    assert any(b < a / 2 for a, b in zip(sizes, sizes[1:], strict=False))


def test_cut_refused_and_prose_agent_replies_are_wrong_answers_with_reasons(reference) -> None:
    repo = reference[0]
    lines = [
        json.loads(x)
        for path in sorted((repo.root / ".git/fnforge/runs/r1").glob("*.jsonl"))
        for x in path.read_text().splitlines()
    ]
    reasons = {x["reason"] for x in lines if x["reason"]}
    assert {"truncated", "refused"} <= reasons
    truncated = next(x for x in lines if x["reason"] == "truncated")
    assert truncated["correct"] is False and truncated["output"] is None
    assert "cut at max_tokens = 120" in truncated["error"]
    refused = next(x for x in lines if x["reason"] == "refused" and x["split"] == "val-head")
    assert "content policy" in refused["error"] and refused["correct"] is False
    prose = [
        x
        for x in lines
        if x["split"] == "val-candidate" and not x["reason"] and x["output"] and "#" not in x["output"]
    ]
    assert prose and all(x["correct"] is False for x in prose)  # prose instead of a tool call: judged
    note = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", repo.head()))
    assert note["usage"]["optimizer"]["refusals"] >= 0 and "cached_tokens" in note["usage"]["train"]


def test_the_offline_replay_asks_nothing_and_decides_the_same(reference, server) -> None:
    repo = reference[0]
    before = server.count
    child = fnforge("train", "--repo", str(repo.root), "--offline")
    out, _ = child.communicate(timeout=600)
    assert child.returncode == 0, out
    assert f"replayed {len(EXPECTED)} steps of run r1 from the cache: the same decisions" in out
    assert "0 model requests" in out and server.count == before


def test_sigkill_at_random_moments_then_resume_reaches_the_same_run(
    tmp_path, records, server, reference
) -> None:
    want = [d[1:] for d in decisions(reference[0])]
    rng = random.Random(11)
    kills = 0
    same_step_twice = 0
    # supervisors that always run `train --resume` (the run is train-1), or that name their run
    ways = [(["--resume"], ["--resume"], "train-1"), (["--run", "r1"], ["--resume", "--run", "r1"], "r1")]
    n = 0
    while kills < 20:
        first, again, run = ways[n % 2]
        repo = world.make_repo(tmp_path / f"run{n}", records, server.base_url)
        n += 1
        recorded_at_kill: list[int] = []
        args = ["train", "--repo", str(repo.root), *first]
        log = []
        while True:
            child = fnforge(*args, start_new_session=True)  # its own process group, like a service
            args = ["train", "--repo", str(repo.root), *again]
            try:
                out, _ = child.communicate(timeout=rng.uniform(0.5, 5.0) if kills < 20 else 600)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                out, _ = child.communicate()
                log.append(out)
                kills += 1
                steps = len(repo.steps(include_rejected=True))
                same_step_twice += bool(recorded_at_kill) and recorded_at_kill[-1] == steps
                recorded_at_kill.append(steps)
                continue
            assert child.returncode == 0, out
            assert "nothing to resume" not in out
            break
        got = decisions(repo, run)
        every = [(r.step, r.run, r.gate) for r in repo.steps(include_rejected=True)]
        assert [d[1:] for d in got] == want, (every, log, out)
        assert [s for s, *_ in got] == list(range(1, len(want) + 1)), (every, log)  # no step recorded twice
        assert repo.candidate_branches() == []
        fsck = subprocess.run(
            ["git", "-C", str(repo.root), "fsck", "--no-progress"], capture_output=True, text=True
        )
        assert fsck.returncode == 0, fsck.stderr
    assert kills == 20 and same_step_twice >= 1


def test_an_endpoint_down_past_its_retries_pauses_the_run_and_resume_continues_it(tmp_path, records) -> None:
    from llm_server import error

    down = {"optimizer": True}
    gsm = base.GSM8KWorld(records)

    def script(body: dict):
        if body.get("model") == base.OPTIMIZER_MODEL and down["optimizer"]:
            return error(503, message="The server is overloaded")
        return gsm(body)

    with LLMServer(script) as srv:
        repo = world.make_repo(tmp_path / "fns", records, srv.base_url)
        child = fnforge("train", "--repo", str(repo.root), "--run", "r1")
        out, _ = child.communicate(timeout=300)
        assert child.returncode == 130, out  # interrupted, not failed: nothing for the user to fix
        assert "still busy or down (HTTP 503" in out and "--resume" in out and "Traceback" not in out
        [rec] = repo.steps(include_rejected=True)
        assert (rec.step, rec.gate) == (1, "interrupted") and "HTTP 503" in rec.reason
        down["optimizer"] = False
        resumed = fnforge("train", "--repo", str(repo.root), "--resume")
        out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    steps = [(r.step, r.gate, tuple(r.actions)) for r in repo.steps(include_rejected=True)]
    assert steps[0] == (1, "interrupted", ()) and steps[1][1:] == (None, ("add calculate",))
