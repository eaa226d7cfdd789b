"""Spending carefully, end to end: budgets, sequential validation, several candidates, the estimate.

Real GSM8K tasks, the scripted models on a loopback server that counts what it is sent (the
real `openai` client), real git, real Docker gates. A budget is checked against what the
server received, never against fnforge's own counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer, text, tool_calls, tool_results

from fnforge.engine.trainer import train
from fnforge.function_repo import FunctionRepo

SECRET = "sk-budget-e2e-never-stored"
FNFORGE = str(Path(sys.executable).parent / "fnforge")
PRICES = {
    world.AGENT_MODEL: {"input": 0.15, "output": 0.6},
    world.OPTIMIZER_MODEL: {"input": 2.5, "output": 10.0},
}

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FNFORGE_TEST_KEY": SECRET}
    return subprocess.run([FNFORGE, *args], env=env, capture_output=True, text=True, timeout=600)


def make_repo(
    path: Path, train_rows: list[dict], val_rows: list[dict], base_url: str, training: str, steps: int = 10
) -> FunctionRepo:
    """A repository of the world with these splits; the optimizer samples (k candidates need it)."""
    text = world.config_text(base_url, extra_training=training).replace(
        "max_steps = 10", f"max_steps = {steps}"
    )
    repo = FunctionRepo.init(
        path, config_text=text.replace("[agent]", "optimizer_temperature = 0.7\n\n[agent]")
    )
    world.write_split(path / "data" / "train.jsonl", train_rows)
    world.write_split(path / "data" / "val.jsonl", val_rows)
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "data")
    return repo


def decisions(repo: FunctionRepo) -> list[tuple]:
    return [(r.step, r.decision, r.gate, tuple(r.actions)) for r in repo.steps(include_rejected=True)]


def spent(server: LLMServer, since: tuple[int, int, int, float]) -> dict[str, float]:
    """What the server received since a mark: requests, tokens and dollars."""
    requests, prompt, completion, usd = since
    return {
        "requests": server.count - requests,
        "tokens": server.prompt_tokens + server.completion_tokens - prompt - completion,
        "usd": server.cost_usd(PRICES) - usd,
    }


def mark(server: LLMServer) -> tuple[int, int, int, float]:
    return server.count, server.prompt_tokens, server.completion_tokens, server.cost_usd(PRICES)


@pytest.fixture(scope="module")
def records(datasets_dir: Path) -> list[dict]:
    return world.pick_records(datasets_dir, 40)


@pytest.fixture(scope="module")
def server(records):
    with LLMServer(world.GSM8KWorld(records)) as s:
        yield s


@pytest.fixture(scope="module")
def reference(tmp_path_factory, records, server):
    """An unbudgeted run of the world's four-step plan: its decisions and what it cost."""
    repo = make_repo(
        tmp_path_factory.mktemp("ref") / "fns", records[:8], records[8:16], server.base_url, world.PAPER_RULES
    )
    before = mark(server)
    done = cli("train", "--repo", str(repo.root), "--run", "r1")
    assert done.returncode == 0, done.stderr
    return decisions(repo), spent(server, before)


@pytest.mark.parametrize("unit", ["requests", "tokens", "usd"])
def test_a_budget_is_never_passed_and_resume_with_more_finishes_without_a_step_twice(
    tmp_path, records, server, reference, unit
) -> None:
    expected, cost = reference
    repo = make_repo(tmp_path / "fns", records[:8], records[8:16], server.base_url, world.PAPER_RULES)
    limit = cost[unit] * 0.4
    flag = f"--budget-{unit}"
    value = f"{limit:.6f}" if unit == "usd" else str(int(limit))
    before = mark(server)
    stopped = cli("train", "--repo", str(repo.root), "--run", "r1", flag, value)
    assert stopped.returncode == 3, stopped.stderr
    assert spent(server, before)[unit] <= float(value) + 1e-9
    line = stopped.stderr.strip()
    assert (
        "\n" not in line
        and line.startswith("spent ")
        and f"continue with: fnforge train --repo {repo.root} --resume {flag}" in line
    )
    assert len(decisions(repo)) < len(expected)
    again = cli("train", "--repo", str(repo.root), "--resume", flag, "100" if unit == "usd" else "1000000000")
    assert again.returncode == 0, again.stderr
    assert decisions(repo) == expected  # every step once, decided as the unbudgeted run decided it
    before = mark(server)
    replay = cli("train", "--repo", str(repo.root), "--offline")
    assert replay.returncode == 0, replay.stderr + replay.stdout
    assert "the same decisions" in replay.stdout and server.count == before[0]


def test_estimate_prints_the_cost_by_role_and_sends_nothing(tmp_path, records, server) -> None:
    repo = make_repo(tmp_path / "fns", records[:8], records[8:16], server.base_url, "")
    before = server.count
    shown = cli("train", "--repo", str(repo.root), "--estimate")
    assert shown.returncode == 0, shown.stderr
    assert server.count == before
    for role in ("train batch", "pre-check", "validation", "optimizer", "whole run (10 steps)"):
        assert role in shown.stdout
    assert "$" in shown.stdout  # the world's models are priced
    assert not repo.steps(include_rejected=True)


class _Useless(world.GSM8KWorld):
    """The optimizer always adds describe_number, which changes no answer."""

    def optimizer(self, body: dict):
        return tool_calls(
            ("add_function", {"name": "describe_number", "description": "d", "code": world.DESCRIBE})
        )


def test_a_useless_candidate_on_a_large_validation_set_is_rejected_after_a_fraction(
    tmp_path, records, docker_pool
) -> None:
    training = 'precheck = false\nsolved_batch = "ask"\nvalidation_chunk = 6\n'
    with LLMServer(_Useless(records)) as server:
        repo = make_repo(tmp_path / "fns", records[:4], records[4:40], server.base_url, training, steps=1)
        train(repo, run="r1", pool=docker_pool)
        candidate_rollouts = sum(
            1
            for r in server.requests
            if r.get("model") == world.AGENT_MODEL and "describe_number" in json.dumps(r.get("tools"))
        )
    step = repo.steps(include_rejected=True)[0]
    assert step.gate == "validation" and not step.accepted
    details = step.note["verdicts"][-1]["details"]
    assert details["n"] == 36 and details["tasks"] < 18
    assert details["acceptance"]["sequential"]["stopped"] in ("futility", "cannot be accepted")
    assert "sequential" in step.reason and "of 36 tasks" in step.reason
    assert candidate_rollouts <= 18  # the candidate ran on a fraction of the validation set


class _ThreeWays(world.GSM8KWorld):
    """Asked for n choices (or with seeds 0, 1, 2), the optimizer writes a useless edit, a good one,
    and one whose function breaks its promise (returns text for a float)."""

    def __init__(self, records):
        super().__init__(records)
        self.written: dict[str, int] = {}

    def edits(self) -> list[tuple[str, dict]]:
        return [
            ("add_function", {"name": "describe_number", "description": "d", "code": world.DESCRIBE}),
            ("add_function", {"name": "calculate", "description": "c", "code": world.CALCULATE}),
            ("add_function", {"name": "calculate", "description": "c", "code": world.CALCULATE_AS_TEXT}),
        ]

    def optimizer(self, body: dict):
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        i = self.written[key] = self.written.get(key, -1) + 1
        return tool_calls(self.edits()[(i + int(body.get("seed") or 0)) % 3])


def _one_step_then_replay(tmp_path, script, records, training, pool) -> tuple[FunctionRepo, list[dict]]:
    """One step of `script`'s world, then its --offline replay (the same decisions, no request);
    the repository and the optimizer requests the step sent."""
    with LLMServer(script) as server:
        repo = make_repo(tmp_path / "fns", records[:8], records[8:16], server.base_url, training, steps=1)
        train(repo, run="r1", pool=pool)
        asked = server.requests_for(world.OPTIMIZER_MODEL)
        before = server.count
        replay = cli("train", "--repo", str(repo.root), "--offline")
        assert replay.returncode == 0 and "the same decisions" in replay.stdout, replay.stderr + replay.stdout
        assert server.count == before
    return repo, asked


def test_with_three_candidates_the_good_one_is_accepted_and_the_other_two_are_kept(
    tmp_path, records, docker_pool
) -> None:
    training = 'solved_batch = "ask"\ncandidates = 3\n'
    repo, asked = _one_step_then_replay(tmp_path, _ThreeWays(records), records, training, docker_pool)
    assert len(asked) == 1 and asked[0]["n"] == 3  # one request, the prompt paid once
    step = repo.steps(include_rejected=True)[0]
    assert step.accepted and step.actions == ["add calculate"]
    assert step.note["selection"]["chosen"] == "c2"
    kept = {}
    for i in (1, 3):
        ref = f"refs/fnforge/rejected/r1/step-1-c{i}"
        kept[i] = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", ref))
    assert kept[1]["gate"] == "precheck" and kept[1]["verdicts"][-1]["details"]["fixed"] == []
    assert kept[3]["gate"] == "property"  # returns text where it promises a float
    assert "fnforge/" not in repo.git.run("branch", "--list")


def test_an_endpoint_that_ignores_n_gets_the_other_candidates_asked_with_the_next_seeds(
    tmp_path, records, docker_pool
) -> None:
    training = 'solved_batch = "ask"\ncandidates = 3\n'
    with LLMServer(_ThreeWays(records), honours_n=False) as server:
        repo = make_repo(tmp_path / "fns", records[:8], records[8:16], server.base_url, training, steps=1)
        train(repo, run="r1", pool=docker_pool)
        asked = server.requests_for(world.OPTIMIZER_MODEL)
    assert [r["seed"] for r in asked] == [0, 1, 2]
    step = repo.steps(include_rejected=True)[0]
    assert step.accepted and step.actions == ["add calculate"]


class _TwoHalves(_ThreeWays):
    """Half the questions are worked with `calculate`, the other half with `reckon` (the same
    calculator under another name); asked for three choices, the optimizer writes one of each and
    a useless third, so each of the first two fixes only its own half."""

    RECKON = world.CALCULATE.replace("def calculate(", "def reckon(")

    def __init__(self, records):
        super().__init__(records)
        self.tool_for = {r["question"].strip(): ("calculate", "reckon")[i % 2] for i, r in enumerate(records)}

    def usable(self, question: str, names: list[str]) -> list[str]:
        """The offered tools the agent can work this question with."""
        return [n for n in names if n == self.tool_for.get(question, "calculate")]

    def agent(self, body: dict):
        question = self._question(body)
        names = [t["function"]["name"] for t in body.get("tools") or []]
        usable = self.usable(question, names)
        if usable and not tool_results(body):
            return tool_calls((usable[0], {"expression": self.expressions.get(question, "0")}))
        if tool_results(body) or not names:
            return world.GSM8KWorld.agent(self, body)
        return text(f"None of these tools fits, so I guess.\n#### {world._first_number(question)}")

    def edits(self) -> list[tuple[str, dict]]:
        return [
            ("add_function", {"name": "calculate", "description": "c", "code": world.CALCULATE}),
            ("add_function", {"name": "reckon", "description": "r", "code": self.RECKON}),
            ("add_function", {"name": "describe_number", "description": "d", "code": world.DESCRIBE}),
        ]


def test_combine_validates_two_proposals_that_fix_different_tasks_as_one_candidate(
    tmp_path, records, docker_pool
) -> None:
    training = 'solved_batch = "ask"\ncandidates = 3\ncombine = true\n'
    repo, asked = _one_step_then_replay(tmp_path, _TwoHalves(records[:16]), records, training, docker_pool)
    assert len(asked) == 1  # the combination costs no optimizer request, only its own pre-check
    step = repo.steps(include_rejected=True)[0]
    assert step.accepted and sorted(step.actions) == ["add calculate", "add reckon"], step.reason
    selection = step.note["selection"]
    assert selection["chosen"] == selection["combined"] == "c1+2"
    rows = {row["candidate"]: row for row in selection["candidates"]}
    assert rows["c1+2"]["precheck_fixed"] > max(rows["c1"]["precheck_fixed"], rows["c2"]["precheck_fixed"]) > 0
    kept = {
        i: json.loads(repo.git.run("notes", "--ref", "fnforge", "show", f"refs/fnforge/rejected/r1/step-1-c{i}"))
        for i in (1, 2, 3)
    }
    assert kept[1]["gate"] == kept[2]["gate"] == "selection" and "c1+2 was validated instead" in kept[1]["reason"]
    assert kept[3]["gate"] == "precheck"
    assert set(repo.functions()) == {"calculate", "reckon"}


def test_a_combined_candidate_held_for_review_is_approved_whole(tmp_path, records, docker_pool) -> None:
    training = 'solved_batch = "ask"\ncandidates = 3\ncombine = true\nreview = "human"\n'
    with LLMServer(_TwoHalves(records[:16])) as server:
        repo = make_repo(tmp_path / "fns", records[:8], records[8:16], server.base_url, training, steps=1)
        train(repo, run="r1", pool=docker_pool)
    assert dict(repo.functions()) == {}  # it waits for a person
    waiting = cli("review", "--repo", str(repo.root), "--json")
    assert waiting.returncode == 0 and "c1+2" in waiting.stdout, waiting.stdout + waiting.stderr
    approved = cli("approve", "1", "--repo", str(repo.root))
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert set(repo.functions()) == {"calculate", "reckon"}
    step = repo.steps()[-1]
    assert step.accepted and sorted(step.actions) == ["add calculate", "add reckon"]


class _TrainOnly(_TwoHalves):
    """`calculate` works every training question and no validation one; `reckon` only the odd
    training questions and every validation one: the best pre-check is the one validation rejects."""

    def __init__(self, records, train: int = 8):
        super().__init__(records)
        questions = [r["question"].strip() for r in records]
        self.works = {"calculate": set(questions[:train]), "reckon": set(questions[1:train:2] + questions[train:])}

    def usable(self, question: str, names: list[str]) -> list[str]:
        return [n for n in names if question in self.works.get(n, set())]


@pytest.mark.parametrize("tries", [1, 2])
def test_when_validation_rejects_the_best_precheck_the_next_best_is_validated(
    tmp_path, records, docker_pool, tries
) -> None:
    training = f'solved_batch = "ask"\ncandidates = 3\nvalidate_candidates = {tries}\n'
    repo, asked = _one_step_then_replay(tmp_path, _TrainOnly(records[:16]), records, training, docker_pool)
    assert len(asked) == 1  # the second validation costs agent requests only
    step = repo.steps(include_rejected=True)[0]
    selection = step.note["selection"]
    rows = {row["candidate"]: row for row in selection["candidates"]}
    assert rows["c1"]["precheck_fixed"] > rows["c2"]["precheck_fixed"] > 0
    if tries == 1:  # the best pre-check is validated alone and the step is lost
        assert not step.accepted and step.gate == "validation" and step.actions == ["add calculate"]
        return
    assert step.accepted and step.actions == ["add reckon"], step.reason
    assert selection["validated"] == ["c1"] and selection["chosen"] == "c2"
    kept = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", "refs/fnforge/rejected/r1/step-1-c1"))
    assert kept["gate"] == "validation" and kept["verdicts"][-1]["gate"] == "validation"
    assert step.note["usage"]["unchosen"]["calls"] > 0  # its validation is part of the step's spend
