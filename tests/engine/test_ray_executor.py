"""The Ray executor on a real local Ray cluster: the same decisions, scores and cache as a local run.

One cluster serves the module: a head node and a second worker node, each its own set of
processes with its own CPU count (`ray.cluster_utils.Cluster`), every node with its own Docker
sandbox pool. Training steps run in `direct` mode (the repository's TabMWP examples and
reviewed edits) and in `tools` mode (the scripted GSM8K model on loopback, on generated
problems) once with the local executor and once on Ray, and must record the same history.
The Ray run's reply cache replays it offline, locally and on Ray, with zero requests. Last,
a worker node is killed while it holds chunks of an evaluation, and the score still equals
the undisturbed one.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import gsm8k_world as world
import pytest
from demo_world import direct_repo
from llm_server import LLMServer

from fnforge.engine.experiment import Experiment, ExperimentError
from fnforge.engine.llm import LLMCacheMiss
from fnforge.engine.trainer import train
from fnforge.engine.transcripts import TranscriptLog
from fnforge.function_repo import FunctionRepo
from fnforge.sandbox import WeakSandboxWarning

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

SECRET = "sk-ray-SECRET-never-on-a-worker-51c2"
RAY = '\n[executor]\nkind = "ray"\ntasks_per_chunk = 2\n'


SOLVE_FIRST_NUMBER = '''"""Answers with the first number of the question (right for a few TabMWP problems)."""

import re

PACKAGES = []


def solve(question: str, table: dict, choices: list, unit: str) -> str:
    """The first number in the question, or "0"."""
    found = re.findall(r"\\d+", question)
    return found[0] if found else "0"
'''


def generated_records(n: int, seed: int = 0) -> list[dict]:
    """GSM8K-shaped problems (question, worked answer with <<calc>> annotations, #### result)."""
    out = []
    for i in range(n):
        a, b, c = 7 + (i * 5 + seed) % 40, 2 + i % 7, 3 + (i * 3) % 11
        total = a + b * c
        out.append(
            {
                "question": f"Shop {i} had {a} apples and got {b} crates of {c} apples each. "
                "How many apples does it have now?",
                "answer": f"The crates hold {b}*{c}=<<{b}*{c}={b * c}>>{b * c} apples.\n"
                f"So it has {a}+{b * c}=<<{a}+{b * c}={total}>>{total} apples.\n#### {total}",
            }
        )
    return out


@pytest.fixture(scope="module")
def cluster():
    """A head and one more worker node on this machine, each with one CPU; shut down at the end."""
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = c.add_node(num_cpus=1)
    ray.init(address=c.address)
    c.wait_for_nodes()
    try:
        yield c, worker
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return generated_records(32)


@pytest.fixture(scope="module")
def server(records):
    with LLMServer(world.GSM8KWorld(records)) as s:
        yield s


def tools_repo(
    path: Path, records: list[dict], base_url: str, extra: str = "", val: slice = slice(8, 16)
) -> FunctionRepo:
    """A GSM8K repository for the scripted world: 8 training problems and (by default) 8 validation ones."""
    text = world.config_text(base_url, extra_training=world.PAPER_RULES).replace(
        "max_steps = 10", "max_steps = 3"
    )
    text += extra
    repo = FunctionRepo.init(path, config_text=text)
    world.write_split(path / "data" / "train.jsonl", records[:8])
    world.write_split(path / "data" / "val.jsonl", records[val])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "generated problems")
    return repo


def history(repo: FunctionRepo, run: str) -> list[tuple]:
    """Decisions, scores and function trees of a run."""
    return [
        (
            r.step,
            r.decision,
            r.gate,
            r.reason,
            r.score_before,
            r.score_after,
            tuple(r.actions),
            repo.git.run("rev-parse", f"{r.commit}:functions"),
        )
        for r in repo.steps(include_rejected=True)
        if r.run == run
    ]


def log_lines(repo: FunctionRepo, run: str) -> list[tuple]:
    """Every transcript line of a run as (file, split, set, task, verdict), sorted."""
    out = []
    for path in sorted((repo.root / ".git" / "fnforge" / "runs" / run).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            x = json.loads(line)
            out.append((path.name, x["split"], x["set"], x["task_id"], x["correct"]))
    return sorted(out)


def test_direct_mode_steps_decide_the_same_on_ray(tmp_path: Path, cluster, docker_pool) -> None:
    local = direct_repo(tmp_path / "local")
    on_ray = direct_repo(tmp_path / "ray", RAY.replace("= 2", "= 16"))
    a = train(local, run="d", pool=docker_pool)
    b = train(on_ray, run="d", pool=docker_pool)
    assert a.stopped == b.stopped == "max_steps reached (3)"
    assert history(on_ray, "d") == history(local, "d")
    assert any(s.accepted for s in b.steps) and [s.train_score for s in b.steps] == [
        s.train_score for s in a.steps
    ]
    assert log_lines(on_ray, "d") == log_lines(local, "d")  # every transcript written once


def test_nodes_without_docker_use_the_process_backend_with_the_same_warning(
    tmp_path: Path, cluster, docker_pool
) -> None:
    docker = direct_repo(tmp_path / "docker", RAY)
    process = direct_repo(tmp_path / "process", RAY, backend="process")
    with Experiment(docker, pool=docker_pool, splits=("val",)) as exp:
        want = exp.score({"solve": SOLVE_FIRST_NUMBER}, "val")
    with pytest.warns(WeakSandboxWarning, match=r"Ray node \w+: .*process") as caught:
        with Experiment(process, pool=docker_pool, splits=("val",)) as exp:
            assert len(exp.executor.warnings) == exp.executor.nodes == 2
            got = exp.score({"solve": SOLVE_FIRST_NUMBER}, "val")
    assert len([w for w in caught if "Ray node" in str(w.message)]) == 2
    assert {k: v.correct for k, v in got.score.items.items()} == {
        k: v.correct for k, v in want.score.items.items()
    }


@pytest.fixture(scope="module")
def tools_runs(tmp_path_factory, cluster, records, server, docker_pool):
    """The same tools-mode run with the local executor and on Ray (its own repository and cache)."""
    os.environ["FNFORGE_TEST_KEY"] = SECRET
    root = tmp_path_factory.mktemp("tools")
    local = tools_repo(root / "local", records, server.base_url)
    n0 = server.count
    train(local, run="t", pool=docker_pool)
    n1 = server.count
    on_ray = tools_repo(root / "ray", records, server.base_url, RAY)
    result = train(on_ray, run="t", pool=docker_pool)
    return local, on_ray, result, n1 - n0, server.count - n1


def test_tools_mode_steps_decide_the_same_on_ray_with_the_same_requests(tools_runs, server) -> None:
    local, on_ray, result, local_requests, ray_requests = tools_runs
    assert history(on_ray, "t") == history(local, "t")
    assert [s.gate for s in result.steps] == [None, "property", "validation"]
    assert result.steps[0].score_after > result.steps[0].score_before
    assert ray_requests == local_requests > 0  # every model call went through the driver's client once
    assert log_lines(on_ray, "t") == log_lines(local, "t")
    note = json.loads(on_ray.git.run("notes", "--ref", "fnforge", "show", on_ray.steps()[-1].commit))
    assert note["usage"]["train"]["calls"] > 0  # usage counted on the driver, as in a local run
    secret = SECRET.encode()
    for path in (on_ray.root / ".git" / "fnforge").rglob("*"):
        assert not path.is_file() or secret not in path.read_bytes()


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_offline_replay_of_a_ray_run_asks_nothing_and_decides_the_same(
    tmp_path: Path, tools_runs, records, server, docker_pool, kind: str
) -> None:
    _, on_ray, *_ = tools_runs
    replay = tools_repo(tmp_path / "replay", records, server.base_url, RAY if kind == "ray" else "")
    cache = Path(".git") / "fnforge" / "cache"
    shutil.copytree(on_ray.root / cache, replay.root / cache)
    before = server.count
    result = train(replay, run="t", offline=True, pool=docker_pool)
    assert server.count == before, "offline replay sent HTTP requests"
    assert result.usage["http_requests"] == 0 and result.usage["cache_hits"] > 0
    assert history(replay, "t") == history(on_ray, "t")


def test_offline_on_ray_without_a_cache_is_the_clients_one_clear_error(
    tmp_path: Path, cluster, records, server, docker_pool
) -> None:
    repo = tools_repo(tmp_path / "empty", records, server.base_url, RAY)
    before = server.count
    with pytest.raises(LLMCacheMiss, match="offline: no cached reply for a request to agent-model"):
        train(repo, run="t", offline=True, pool=docker_pool)
    assert server.count == before
    assert repo.steps(include_rejected=True) == [] and repo.candidate_branches() == []


def test_an_offline_cache_miss_arrives_on_a_ray_worker_as_the_cache_miss_type(
    tmp_path: Path, cluster
) -> None:
    import asyncio

    from fnforge.config import LLMSettings
    from fnforge.engine.executors.ray.relay import Gateway, LLMRelay
    from fnforge.engine.llm import LLMClient

    def ask_relay_on_a_worker(relay, settings):
        """On a Ray worker: ask once through the relay; the type (and module) of what was raised."""
        import asyncio

        from fnforge.engine.executors.ray.relay import RelayedLLM

        try:
            asyncio.run(RelayedLLM(relay, settings).chat([{"role": "user", "content": "7+5?"}]))
        except Exception as exc:  # noqa: BLE001 - the test reads what arrived
            return type(exc).__module__, type(exc).__name__, str(exc)
        return None

    settings = LLMSettings()
    relay = ray.remote(LLMRelay).options(max_concurrency=100).remote()
    gateway = Gateway(relay, LLMClient(settings, tmp_path / "cache", offline=True))
    worker = ray.remote(ask_relay_on_a_worker)  # a local function: pickled by value, runs in a worker process

    async def run():
        gateway.ensure_running()
        try:
            return await asyncio.wrap_future(worker.remote(relay, settings).future())
        finally:
            gateway.stop(asyncio.get_running_loop())

    try:
        arrived = asyncio.run(run())
    finally:
        ray.kill(relay)
    assert arrived is not None and arrived[:2] == ("fnforge.engine.llm.errors", LLMCacheMiss.__name__)
    assert "offline: no cached reply" in arrived[2]
    assert isinstance(gateway.failure, LLMCacheMiss)  # the driver raises the very same error


def test_an_unreachable_cluster_is_one_line_naming_the_setting(
    tmp_path: Path, cluster, records, server
) -> None:
    ray.shutdown()  # a process not yet connected, as `fnforge train` starts
    try:
        text = '\n[executor]\nkind = "ray"\naddress = "127.0.0.1:9"\n'
        repo = tools_repo(tmp_path / "nowhere", records, server.base_url, text)
        with pytest.raises(ExperimentError) as err:
            with Experiment(repo, pool=object()):
                pass
        message = str(err.value)
        assert "[executor] address = '127.0.0.1:9'" in message and "\n" not in message
    finally:
        ray.init(address=cluster[0].address)


def test_a_worker_node_lost_mid_evaluation_gives_the_same_score(
    tmp_path: Path, cluster, records, docker_pool
) -> None:
    c, worker = cluster
    tasks_hold = threading.Event()
    armed: list[bool] = []
    killed: list[bool] = []

    def hold_then_kill(body: dict) -> None:
        # at the 12th request every node has chunks waiting on the model: kill the worker node then
        if not armed:
            return
        if len(server.requests) == 12 and not killed:
            killed.append(True)
            c.remove_node(worker)
            tasks_hold.set()
        elif len(server.requests) > 12:
            tasks_hold.wait(60)

    with LLMServer(world.GSM8KWorld(records), on_request=hold_then_kill) as server:
        os.environ["FNFORGE_TEST_KEY"] = SECRET
        local = tools_repo(tmp_path / "local", records, server.base_url, val=slice(16, 32))
        on_ray = tools_repo(tmp_path / "ray", records, server.base_url, RAY, val=slice(16, 32))
        functions = {"calculate": world.CALCULATE}
        with Experiment(local, pool=docker_pool) as exp:
            want = exp.scorer.score(functions, exp.val_tasks, split="val")
        server.requests.clear()
        armed.append(True)
        with Experiment(on_ray, pool=docker_pool) as exp:
            assert exp.executor.nodes == 2
            exp.scorer.log = TranscriptLog(tmp_path / "ray.jsonl")
            got = exp.scorer.score(functions, exp.val_tasks, split="val")
            reruns = exp.executor.rerun_chunks
            nodes_after = exp.executor.nodes
    assert killed and reruns >= 1 and nodes_after == 1
    wrong = [x for x in TranscriptLog(tmp_path / "ray.jsonl").read() if not x["correct"]]
    assert not wrong, wrong
    assert {k: v.correct for k, v in got.score.items.items()} == {
        k: v.correct for k, v in want.score.items.items()
    }
    assert (got.score.correct, got.score.n) == (want.score.correct, want.score.n) == (16, 16)


def test_a_budget_stops_a_ray_run_as_a_local_one_and_resume_finishes_it(
    tmp_path: Path, cluster, records, server, docker_pool
) -> None:
    from fnforge.engine.ledger import BudgetExhausted, Limits

    repo = tools_repo(tmp_path / "budget", records, server.base_url, RAY)
    before = server.count
    with pytest.raises(BudgetExhausted, match="requests of 12 requests"):
        train(repo, run="t", pool=docker_pool, budget=Limits(requests=12))
    assert server.count - before <= 12  # the workers' requests count against the driver's budget
    done = train(repo, run="t", resume=True, pool=docker_pool, budget=Limits(requests=1000))
    steps = [r.step for r in repo.steps(include_rejected=True)]
    assert steps == sorted(set(steps)) and len(done.steps) >= 1  # no step recorded twice
