"""A training run tracked in a real MLflow store (the full `mlflow` package, a sqlite database):
read back with MlflowClient, it has one validation-score point per step, the settings as params,
each step's commit and decision as tags, the function set of each accepted step as artifacts;
a resumed run adds to the same MLflow run, an offline replay logs nothing, and an unreachable
tracker is a warning while the run goes on."""

from __future__ import annotations

import os
import re
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer, error
from mlflow import MlflowClient

from fnforge.engine.replay import replay
from fnforge.engine.trainer import train
from fnforge.function_repo import FunctionRepo

SECRET = "sk-mlflow-test-never-stored"


@pytest.fixture(scope="module")
def records(datasets_dir: Path) -> list[dict]:
    return world.pick_records(datasets_dir, 16)


class OptimizerOutage:
    """The GSM8K world, whose optimizer endpoint is down (HTTP 503) while `down` is set."""

    def __init__(self, records: list[dict]):
        self.world = world.GSM8KWorld(records)
        self.down = False

    def __call__(self, body: dict):
        if self.down and body.get("model") == world.OPTIMIZER_MODEL:
            return error(503, message="scripted outage")
        return self.world(body)


def make_repo(
    path: Path, records: list[dict], base_url: str, tracking: str, max_steps: int = 10
) -> FunctionRepo:
    text = world.config_text(base_url, extra_training='solved_batch = "ask"\n')
    text = re.sub(r"(?m)^max_steps = .*$", f"max_steps = {max_steps}", text)
    repo = FunctionRepo.init(
        path, config_text=text + f'\n[tracking]\nmlflow = "{tracking}"\nexperiment = "gsm8k-tools"\n'
    )
    world.write_split(path / "data" / "train.jsonl", records[:8])
    world.write_split(path / "data" / "val.jsonl", records[8:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K training and validation slices")
    return repo


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, records, docker_pool):
    """Run r1 until the optimizer's endpoint goes down after step 2 (the run stops as interrupted),
    then resume it to its early stop; both halves log to one sqlite store."""
    os.environ["FNFORGE_TEST_KEY"] = SECRET
    base = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{base / 'store' / 'mlflow.db'}"
    events: list[tuple[str, dict]] = []
    script = OptimizerOutage(records)

    def progress(event: str, **kw) -> None:
        events.append((event, kw))
        if event == "decided" and kw["step"] == 2:
            script.down = True

    with LLMServer(script) as server:
        repo = make_repo(base / "fns", records, server.base_url, uri)
        first = train(repo, run="r1", pool=docker_pool, progress=progress)
        script.down = False
        second = train(repo, run="r1", resume=True, pool=docker_pool, progress=progress)
    return repo, uri, (first, second), events


def the_run(uri: str, experiment: str = "gsm8k-tools"):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment)
    runs = client.search_runs([experiment.experiment_id])
    return client, runs


def test_a_run_and_its_resumption_are_one_mlflow_run_with_a_point_per_step(tracked) -> None:
    repo, uri, (first, second), events = tracked
    assert first.stopped == "interrupted" and len(first.steps) == 2
    assert repo.step(3).gate == "interrupted"  # recorded, and tracked like any step
    assert len(second.steps) >= 2 and not [e for e, _ in events if e == "tracking"]  # no warnings
    client, runs = the_run(uri)
    assert len(runs) == 1 and runs[0].info.run_name == "r1" and runs[0].info.status == "FINISHED"
    run_id = runs[0].info.run_id
    steps = [r.step for r in repo.steps(include_rejected=True)]
    history = client.get_metric_history(run_id, "validation_score")
    assert sorted(m.step for m in history) == steps == list(range(1, len(steps) + 1))
    accepted = {m.step: m.value for m in client.get_metric_history(run_id, "accepted")}
    assert accepted == {r.step: float(r.accepted) for r in repo.steps(include_rejected=True)}
    step1 = repo.step(1)
    assert {m.step: m.value for m in history}[1] == pytest.approx(step1.score_after)
    tokens = client.get_metric_history(run_id, "tokens")
    assert {m.step for m in tokens if m.value > 0} == set(steps) - {3}
    assert {m.step for m in client.get_metric_history(run_id, "train_batch_score")} == set(steps) - {3}
    assert {m.value for m in client.get_metric_history(run_id, "validation_tasks")} == {8.0}


def test_params_tags_and_artifacts_say_what_git_says(tracked) -> None:
    repo, uri, _, _ = tracked
    client, runs = the_run(uri)
    data = runs[0].data
    assert data.params["training.batch_size"] == "4" and data.params["task.name"] == "gsm8k"
    assert data.params["training.max_steps"] == "10" and data.params["llm.model"] == world.AGENT_MODEL
    for r in repo.steps(include_rejected=True):
        assert data.tags[f"fnforge.step.{r.step}.commit"] == r.commit
        decision = data.tags[f"fnforge.step.{r.step}.decision"]
        assert decision == "accepted" if r.accepted else decision.startswith(f"rejected at {r.gate}: ")
    assert data.tags["fnforge.run"] == "r1" and data.tags["fnforge.stopped"].startswith("early stop")
    run_id = runs[0].info.run_id
    folders = {f.path for f in client.list_artifacts(run_id)}
    accepted = [r for r in repo.steps(include_rejected=True) if r.accepted]
    assert folders == {f"step-{r.step}" for r in accepted} and accepted
    for r in accepted:
        files = {f.path for f in client.list_artifacts(run_id, f"step-{r.step}/functions")}
        assert files == {f"step-{r.step}/functions/{name}.py" for name in repo.functions(r.commit)}
        local = client.download_artifacts(run_id, f"step-{r.step}/functions/calculate.py")
        assert Path(local).read_text() == repo.functions(r.commit)["calculate"]


def test_an_offline_replay_logs_nothing(tmp_path, records, docker_pool) -> None:
    os.environ["FNFORGE_TEST_KEY"] = SECRET
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with LLMServer(world.GSM8KWorld(records)) as server:
        repo = make_repo(tmp_path / "fns", records, server.base_url, uri, max_steps=2)
        train(repo, run="r1", pool=docker_pool)
        client, runs = the_run(uri)
        before = [
            (m.step, m.value) for m in client.get_metric_history(runs[0].info.run_id, "validation_score")
        ]
        asked = server.count
        replayed = replay(repo, "r1", pool=docker_pool)  # `fnforge train --offline` on a finished run
    assert replayed.identical and server.count == asked
    client, runs = the_run(uri)
    after = [(m.step, m.value) for m in client.get_metric_history(runs[0].info.run_id, "validation_score")]
    assert len(runs) == 1 and after == before and len(before) == 2


def test_an_unreachable_tracker_is_a_warning_and_the_run_goes_on(tmp_path, records, docker_pool) -> None:
    os.environ["FNFORGE_TEST_KEY"] = SECRET
    events: list[tuple[str, dict]] = []
    with LLMServer(world.GSM8KWorld(records)) as server:
        repo = make_repo(tmp_path / "fns", records, server.base_url, "http://127.0.0.1:9", max_steps=1)
        result = train(repo, run="r1", pool=docker_pool, progress=lambda e, **kw: events.append((e, kw)))
    warnings = [kw["line"] for e, kw in events if e == "tracking"]
    assert len(result.steps) == 1 and result.stopped == "max_steps reached (1)"
    assert len(warnings) == 1 and "http://127.0.0.1:9" in warnings[0] and "not tracked" in warnings[0]
