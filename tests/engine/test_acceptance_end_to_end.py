"""The acceptance rule end to end: one lucky task is not an improvement under `significant`.

Real GSM8K tasks (the slice shipped in tests/data), the scripted models on loopback through
the real openai client, real git and the real Docker gates. The optimizer proposes a
`calculate` that knows the calculation of exactly one validation task: validation goes from
0/8 to 1/8 with 1 fixed and 0 broken. `improves` merges it; `significant` rejects it, and its
verdict carries p = 0.5.
"""

from __future__ import annotations

import json
import os

import pytest
import trust_world as tw
from llm_server import LLMServer

from fnforge.engine.trainer import train

TRAIN, VAL = tw.records(8), tw.records(8, skip=8)


@pytest.fixture(scope="module")
def server():
    with LLMServer(tw.OneEditWorld(TRAIN + VAL, tw.knowing([VAL[0]]))) as s:
        yield s


def run_with(rule: str, root, server, pool):
    os.environ["FNFORGE_TEST_KEY"] = "sk-test"
    repo = tw.make_repo(
        root, server.base_url, TRAIN, VAL, training=f'accept = "{rule}"\nalpha = 0.05\nprecheck = false\n'
    )
    result = train(repo, run="r1", pool=pool)
    return repo, result


def test_significant_rejects_a_one_task_gain_with_p_in_the_verdict(tmp_path, server, docker_pool) -> None:
    repo, result = run_with("significant", tmp_path / "sig", server, docker_pool)
    (step,) = result.steps
    assert not step.accepted and step.gate == "validation"
    assert (step.score_before, step.score_after) == (0.0, 0.125)
    assert step.reason.startswith(
        "improvement not significant: 0.000 -> 0.125 on 8 tasks (1 fixed, 0 broken)"
    )
    assert "p = 0.5" in step.reason and "alpha 0.05" in step.reason
    assert repo.functions() == {}
    ref = "refs/fnforge/rejected/r1/step-1"
    note = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", ref))
    val = [v for v in note["verdicts"] if v["gate"] == "validation"][0]
    assert val["details"]["acceptance"] == {
        "rule": "significant",
        "accepted": False,
        "fixed": 1,
        "broken": 0,
        "min_delta": 0.0,
        "p": 0.5,
        "alpha": 0.05,
    }
    assert "acceptance" not in note and "flipped" not in note  # a gate's figures live once, in its verdict


def test_improves_accepts_the_same_candidate(tmp_path, server, docker_pool) -> None:
    repo, result = run_with("improves", tmp_path / "imp", server, docker_pool)
    (step,) = result.steps
    assert step.accepted, step.reason
    assert step.reason.startswith("validation improved 0.000 -> 0.125 on 8 tasks (1 fixed, 0 broken)")
    assert "rule improves" in step.reason
    assert "calculate" in repo.functions()
