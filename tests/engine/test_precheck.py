"""The pre-check gate saves the validation run of an edit that fixes none of its batch's failures.

Real GSM8K tasks shipped in tests/data, scripted models on loopback, real Docker gates. The
optimizer proposes a `calculate` that knows only one validation task's calculation: it fixes
none of the training batch's failures. With the pre-check on, the step is rejected at gate
`precheck` and validation never runs; with it off, validation runs (and `improves` accepts the
lucky one-task gain). Requests are counted at the server.
"""

from __future__ import annotations

import json
import os

import gsm8k_world as world
import trust_world as tw
from llm_server import LLMServer

from fnforge.engine.trainer import train

TRAIN, VAL = tw.records(8), tw.records(8, skip=8)
EDIT = tw.knowing([VAL[0]])


def agent_requests_of_one_step(root, precheck: bool, pool) -> tuple[object, int, object]:
    os.environ["FNFORGE_TEST_KEY"] = "sk-test"
    with LLMServer(tw.OneEditWorld(TRAIN + VAL, EDIT)) as server:
        training = f'accept = "improves"\nprecheck = {str(precheck).lower()}\n'
        repo = tw.make_repo(root, server.base_url, TRAIN, VAL, training=training)
        result = train(repo, run="r1", pool=pool)
        return repo, len(server.requests_for(world.AGENT_MODEL)), result


def test_precheck_rejects_without_validation_and_saves_its_requests(tmp_path, docker_pool) -> None:
    repo, on, result = agent_requests_of_one_step(tmp_path / "on", True, docker_pool)
    (step,) = result.steps
    assert not step.accepted and step.gate == "precheck"
    assert step.reason == ("fixes none of the 4 batch tasks the head failed; validation on 8 tasks not run")
    # 4 batch tasks x 1 request (no tools: a guess) + 4 pre-check tasks x 2 (tool call, then answer)
    assert on == 4 + 8
    note = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", "refs/fnforge/rejected/r1/step-1"))
    precheck = note["verdicts"][-1]
    assert precheck["gate"] == "precheck"
    assert precheck["details"]["tasks"] == 4 and precheck["details"]["fixed"] == []
    assert precheck["details"]["calls_saved_estimate"] == 24
    assert precheck["details"]["validation_rollouts_saved"] == 16
    assert precheck["details"]["usage"]["http_requests"] == 8
    assert "precheck" not in note and set(note["usage"]) == {"train", "optimizer"}

    _, off, result_off = agent_requests_of_one_step(tmp_path / "off", False, docker_pool)
    (step_off,) = result_off.steps
    assert step_off.accepted and step_off.gate is None  # improves takes the lucky one-task gain
    # 4 batch + 8 validation tasks for the head (1 each) + 8 for the candidate (2 each)
    assert off == 4 + 8 + 16
    assert off - on == 24 - 8  # what the pre-check saved, net of its own cost
