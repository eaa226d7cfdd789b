"""A server smaller than fnforge.toml says: the window stated in its refusal is learned, once, for good.

The optimizer model of the scripted GSM8K world (behind `tests/real_model.py`, which refuses
a prompt plus reply over its window in OpenAI's words) has 9,000 tokens; the repository keeps
the default 128,000. The first optimizer request is refused; the refusal names the window;
every later request fits it (a reply limit of half of it, the prompt in the rest), the
step's note and one progress line say so with the setting to write, the offline replay
builds the same prompts from the cache, and a run killed after that step and resumed fits
its prompts to the window at once. A tools-mode agent against a server without tool calling
stops the run with one line naming `[agent] mode = "react"`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer
from real_model import RealModel

from fnforge.function_repo import FunctionRepo, StaticGate, parse_actions

FNFORGE = str(Path(sys.executable).parent / "fnforge")
ENV = {**os.environ, "FNFORGE_TEST_KEY": "sk-window-test"}
WINDOW = 9000


@pytest.fixture(scope="module")
def records(datasets_dir: Path) -> list[dict]:
    return world.pick_records(datasets_dir, 16)


def make_repo(path: Path, records: list[dict], base_url: str) -> FunctionRepo:
    repo = FunctionRepo.init(path, config_text=world.config_text(base_url, extra_training=world.PAPER_RULES))
    world.write_split(path / "data" / "train.jsonl", records[:8])
    world.write_split(path / "data" / "val.jsonl", records[8:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K slices")
    return repo


def fnforge(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [FNFORGE, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw
    )


def optimizer_notes(repo: FunctionRepo) -> list[dict]:
    return [r.note or {} for r in repo.steps(include_rejected=True) if r.run == "r1"]


def test_the_window_a_refusal_states_is_learned_noted_once_and_replayed(tmp_path, records) -> None:
    model = RealModel(world.GSM8KWorld(records), context_tokens={world.OPTIMIZER_MODEL: WINDOW})
    with LLMServer(model) as server:
        repo = make_repo(tmp_path / "fns", records, server.base_url)
        out, _ = fnforge("train", "--repo", str(repo.root), "--run", "r1").communicate(timeout=600)
        asked = server.requests_for(world.OPTIMIZER_MODEL)
        before = server.count
        replay, _ = fnforge("train", "--repo", str(repo.root), "--offline").communicate(timeout=600)
        after = server.count
    assert "stopped: early stop" in out, out
    assert model.refusals == ["context"]  # the first optimizer request, and nothing after it
    assert asked[0]["max_tokens"] == 8192 and len(asked) > 3
    assert all(r["max_tokens"] == WINDOW // 2 for r in asked[1:])  # at most half the window for the reply
    notes = optimizer_notes(repo)
    assert notes[0]["context_window"] == {
        world.OPTIMIZER_MODEL: {
            "tokens": WINDOW,
            "configured": 128000,
            "setting": f"[llm] optimizer_context_tokens = {WINDOW}",
        }
    }
    assert not any("context_window" in n for n in notes[1:])
    assert f"maximum context length is {WINDOW} tokens" in notes[0]["optimizer"]["errors"][0]
    flat = " ".join(out.split())  # the console wraps long lines
    line = f"the endpoint states a context window of {WINDOW} tokens for {world.OPTIMIZER_MODEL}"
    assert flat.count(line) == 1 and f"set [llm] optimizer_context_tokens = {WINDOW}" in flat, out
    assert "the same decisions" in replay and "0 model requests" in replay and after == before, replay


def test_a_resumed_run_fits_its_prompts_to_the_window_its_earlier_steps_learned(tmp_path, records) -> None:
    gsm = world.GSM8KWorld(records)
    model = RealModel(gsm, context_tokens={world.OPTIMIZER_MODEL: WINDOW})
    child: dict[str, subprocess.Popen] = {}

    def kill_in_step_two(body: dict) -> None:
        # the optimizer's first request of step 2 (its prompt lists step 1): the whole process dies
        if body.get("model") == world.OPTIMIZER_MODEL and gsm.steps_done(body) == 1 and "first" in child:
            os.killpg(child.pop("first").pid, signal.SIGKILL)

    with LLMServer(model, on_request=kill_in_step_two) as server:
        repo = make_repo(tmp_path / "fns", records, server.base_url)
        child["first"] = first = fnforge(
            "train", "--repo", str(repo.root), "--run", "r1", start_new_session=True
        )
        first.communicate(timeout=600)
        assert first.returncode == -signal.SIGKILL
        assert [r.step for r in repo.steps(include_rejected=True)] == [1]
        out, _ = fnforge("train", "--repo", str(repo.root), "--resume").communicate(timeout=600)
    assert "stopped: early stop" in out, out
    assert model.refusals == ["context"]  # the resumed step 2 was not refused again
    assert "context window of" not in out  # said by step 1, before the kill; not again
    assert all(r["max_tokens"] == WINDOW // 2 for r in server.requests_for(world.OPTIMIZER_MODEL)[1:])


def test_a_tools_agent_against_a_server_without_tool_calls_is_one_line_naming_react(
    tmp_path, records
) -> None:
    with LLMServer(world.GSM8KWorld(records), refuse_tools=True) as server:
        repo = make_repo(tmp_path / "fns", records, server.base_url)
        add = [{"action": "add_function", "name": "calculate", "description": "c", "code": world.CALCULATE}]
        repo.run_step(parse_actions(add), [StaticGate()], run="setup")  # the agent now has a tool to offer
        done = subprocess.run(
            [FNFORGE, "train", "--repo", str(repo.root)], env=ENV, capture_output=True, text=True, timeout=300
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: ")
    flat = " ".join(done.stderr.split())
    assert "does not support tools" in flat and '[agent] mode = "react"' in flat, flat
    assert server.requests and all(r.get("tools") for r in server.requests)  # it stopped at the first
    assert [r.run for r in repo.steps(include_rejected=True)] == ["setup"]  # no training step recorded
