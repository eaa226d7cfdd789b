"""The sealed test split: never run during training, never shown to the optimizer; scored on demand.

A training run on real GSM8K slices (shipped in tests/data) with train, val and test splits,
the scripted models on loopback. Afterwards every request in the reply cache (which holds each
request the run made) is searched: no optimizer request contains a validation or test question
or worked answer, and no request at all contains a test question. `fnforge eval --split test`
then scores the test split, and `train` refuses splits that share a task, naming it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gsm8k_world as world
import pytest
import trust_world as tw
from llm_server import LLMServer

from fnforge.engine.trainer import train

FNFORGE = str(Path(sys.executable).parent / "fnforge")
TRAIN, VAL, TEST = tw.records(8), tw.records(8, skip=8), tw.records(8, skip=16)


def strings(value) -> list[str]:
    """Every string inside a JSON value (so escapes in the file do not hide a match)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def cached_requests(root: Path) -> list[dict]:
    cache = root / ".git" / "fnforge" / "cache"
    return [json.loads(p.read_text(encoding="utf-8"))["request"] for p in cache.glob("*/*.json")]


def secrets_of(records: list[dict]) -> list[str]:
    """What must not leak: each question, and each worked answer (the text before ####)."""
    return [r["question"].strip() for r in records] + [
        r["answer"].rsplit("####", 1)[0].strip() for r in records
    ]


def leaks(requests: list[dict], records: list[dict]) -> list[str]:
    blobs = ["\n".join(strings(r)) for r in requests]
    return [s[:60] for s in secrets_of(records) if any(s in b for b in blobs)]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FNFORGE_TEST_KEY": "sk-test"}
    return subprocess.run([FNFORGE, *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def server():
    with LLMServer(world.GSM8KWorld(TRAIN + VAL + TEST)) as s:
        yield s


@pytest.fixture(scope="module")
def trained(tmp_path_factory, server, docker_pool):
    os.environ["FNFORGE_TEST_KEY"] = "sk-test"
    root = tmp_path_factory.mktemp("sealed") / "fns"
    # the optimizer is asked every step (the head solves the batches after step 1)
    training = 'solved_batch = "ask"\n'
    repo = tw.make_repo(root, server.base_url, TRAIN, VAL, test=TEST, max_steps=4, training=training)
    result = train(repo, run="r1", pool=docker_pool)
    return repo, result


def test_no_optimizer_request_holds_a_validation_or_test_task(trained) -> None:
    repo, result = trained
    assert result.steps and result.steps[0].accepted  # the run really learned something
    requests = cached_requests(repo.root)
    optimizer = [r for r in requests if r["model"] == world.OPTIMIZER_MODEL]
    assert len(optimizer) >= 2
    assert leaks(optimizer, TRAIN)  # the search works: the optimizer does read training transcripts
    assert leaks(optimizer, VAL) == []
    assert leaks(optimizer, TEST) == []
    assert leaks(requests, VAL)  # validation ran (for decisions) ...
    assert leaks(requests, TEST) == []  # ... the test split never ran at all


def test_eval_scores_the_sealed_split_on_demand(trained) -> None:
    repo, _ = trained
    head = cli("--json", "eval", "--repo", str(repo.root), "--split", "test")
    assert head.returncode == 0, head.stderr
    data = json.loads(head.stdout.strip().splitlines()[-1])
    assert data["split"] == "test" and data["n"] == 8 and data["accuracy"] == 1.0
    start = cli("--json", "eval", "--repo", str(repo.root), "--ref", "0", "--split", "test")
    assert json.loads(start.stdout.strip().splitlines()[-1])["accuracy"] == 0.0
    assert leaks(cached_requests(repo.root), TEST)  # now it has run, on demand


def test_train_refuses_splits_that_share_a_task(tmp_path, server) -> None:
    repo = tw.make_repo(tmp_path / "fns", server.base_url, TRAIN, VAL, test=[*TEST[:3], VAL[5]])
    before = server.count
    out = cli("train", "--repo", str(repo.root))
    assert out.returncode == 2
    assert "the splits overlap: task '3' of test has the same question as task '5' of val" in out.stderr
    assert server.count == before  # refused before any model request
    no_test = tw.make_repo(tmp_path / "fns2", server.base_url, TRAIN, VAL)
    out = cli("eval", "--repo", str(no_test.root), "--split", "test")
    assert out.returncode == 2 and "no test split: set [data] test" in out.stderr
