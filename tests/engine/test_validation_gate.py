"""The validation gate in a hand-made step (`fnforge apply`): runs when it can, says so when it cannot."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer

from fnforge.engine.validation import SkippedValidation, ValidationGate, validation_for_apply
from fnforge.function_repo import FunctionRepo, StaticGate, parse_actions


def _repo(path: Path, records: list[dict], base_url: str, **kw) -> FunctionRepo:
    repo = FunctionRepo.init(path, config_text=world.config_text(base_url, **kw))
    world.write_split(path / "data" / "val.jsonl", records)
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "val data")
    return repo


ADD = [{"action": "add_function", "name": "calculate", "description": "c", "code": world.CALCULATE}]


@pytest.fixture(scope="module")
def records(datasets_dir: Path) -> list[dict]:
    return world.pick_records(datasets_dir, 6)


def test_apply_with_a_reachable_model_runs_validation_and_merges_on_improvement(
    tmp_path: Path, records, docker_pool
) -> None:
    with LLMServer(world.GSM8KWorld(records)) as server:
        repo = _repo(tmp_path / "fns", records, server.base_url)
        with ExitStack() as stack:
            gate = validation_for_apply(repo.root, stack, pool=docker_pool)
            assert isinstance(gate, ValidationGate)
            result = repo.run_step(parse_actions(ADD), [StaticGate(), gate])
        assert server.count > 0
    assert result.accepted and (result.score_before, result.score_after) == (0.0, 1.0)
    assert result.verdicts[-1].details["flipped"]["fixed"] == [str(i) for i in range(6)]


def test_apply_without_a_key_for_a_remote_endpoint_skips_validation_and_says_so(
    tmp_path: Path, records, monkeypatch
) -> None:
    monkeypatch.delenv("FNFORGE_TEST_KEY", raising=False)
    repo = _repo(tmp_path / "fns", records, "https://api.example.invalid/v1")
    with ExitStack() as stack:
        gate = validation_for_apply(repo, stack)
    assert isinstance(gate, SkippedValidation)
    result = repo.run_step(parse_actions(ADD), [StaticGate(), gate])
    assert result.accepted
    assert result.verdicts[-1].reason == (
        "validation did not run: no API key in $FNFORGE_TEST_KEY for https://api.example.invalid/v1"
    )


def test_apply_against_a_local_endpoint_that_is_down_skips_validation(tmp_path: Path, records) -> None:
    repo = _repo(tmp_path / "fns", records, "http://127.0.0.1:9/v1")
    with ExitStack() as stack:
        gate = validation_for_apply(repo, stack)
    assert isinstance(gate, SkippedValidation)
    assert "did not answer" in gate.why and "base_url" in gate.why


def test_equal_scores_are_rejected_and_min_delta_is_respected(tmp_path: Path, records, docker_pool) -> None:
    with LLMServer(world.GSM8KWorld(records)) as server:
        repo = _repo(tmp_path / "fns", records, server.base_url)
        with ExitStack() as stack:
            gate = validation_for_apply(repo, stack, pool=docker_pool)
            repo.run_step(parse_actions(ADD), [StaticGate(), gate])
            same = [
                {
                    "action": "add_function",
                    "name": "describe_number",
                    "description": "d",
                    "code": world.DESCRIBE,
                }
            ]
            result = repo.run_step(parse_actions(same), [StaticGate(), gate])
            strict = ValidationGate(gate.scorer, gate.val_tasks, min_delta=1.0)
            remove = [{"action": "remove_function", "name": "calculate"}]
            again = repo.run_step(parse_actions(remove), [StaticGate(), strict])
    assert not result.accepted and result.gate == "validation"
    assert result.reason == (
        "no improvement: 1.000 -> 1.000 on 6 tasks (0 fixed, 0 broken); paired test: p = 1 (>= alpha 0.05)"
    )
    assert not again.accepted and again.reason.startswith("no improvement by more than 1.0: 1.000 -> 0.000")
