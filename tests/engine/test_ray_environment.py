"""No model key in Ray's processes: `/proc/<pid>/environ` of every Ray process, read during a run.

The driver holds the key (`[llm] api_key_env`) and asks the model for the workers through the
relay; none of Ray's own processes (GCS, raylet, agents, the node actors and workers) may
hold it, neither on a cluster started before the run (the two-node test cluster, as a user's
`ray start`) nor on one the driver starts itself (`address = "auto"` with no cluster
running). The processes are read while the scripted model answers a worker's request, so
every actor of the evaluation is alive; they are this test's descendants (the Ray processes
this test's cluster or driver started), so other Ray instances on the machine do not count.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import gsm8k_world as world
from llm_server import LLMServer
from test_ray_executor import RAY, generated_records, tools_repo

from fnforge.engine.executors.ray.driver import start_local_ray
from fnforge.engine.trainer import train

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

KEY_ENV = "FNFORGE_TEST_KEY"  # the repository's [llm] api_key_env (gsm8k_world's config)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def ray_processes_holding(secret: str) -> tuple[list[str], list[str]]:
    """(every Ray process below this one, those whose environment holds the key or its variable)."""
    seen, holding = [], []
    for pid in _descendants(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if "ray" not in cmdline:
            continue
        seen.append(cmdline)
        names = {item.split(b"=", 1)[0] for item in environ.split(b"\0")}
        if secret.encode() in environ or KEY_ENV.encode() in names:
            holding.append(cmdline)
    return seen, holding


def _train_reading_ray_processes(tmp_path: Path, pool, secret: str) -> tuple[list[str], list[str]]:
    """One Ray training step with the key in the driver's environment; what the scans found."""
    records = generated_records(16)
    scans: list[tuple[list[str], list[str]]] = []

    def scan(body: dict) -> None:
        if len(scans) < 3:  # a few reads while workers ask: every actor of the evaluation is up
            scans.append(ray_processes_holding(secret))

    os.environ[KEY_ENV] = secret
    try:
        with LLMServer(world.GSM8KWorld(records), on_request=scan) as server:
            repo = tools_repo(tmp_path / "repo", records, server.base_url, RAY)
            train(repo, run="t", pool=pool)
    finally:
        os.environ.pop(KEY_ENV, None)
    assert scans, "the model was never asked during the run"
    seen = sorted({c for s, _ in scans for c in s})
    holding = sorted({c for _, h in scans for c in h})
    return seen, holding


def _is_ray_core(seen: list[str]) -> bool:
    """The scan saw the GCS, a raylet and a worker running an actor."""
    return (
        any("gcs_server" in c for c in seen)
        and any("raylet" in c for c in seen)
        and any("ray::" in c or "default_worker" in c for c in seen)
    )


def test_no_ray_process_of_the_two_node_test_cluster_holds_the_key(
    tmp_path: Path, docker_pool, monkeypatch
) -> None:
    monkeypatch.delenv(
        KEY_ENV, raising=False
    )  # the cluster runs before the driver has its key, as after `ray start`
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address)
    cluster.wait_for_nodes()
    try:
        seen, holding = _train_reading_ray_processes(tmp_path, docker_pool, f"sk-ray-{uuid.uuid4().hex}")
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert _is_ray_core(seen), seen
    assert holding == []


def test_no_ray_process_that_the_driver_starts_itself_holds_the_key(
    tmp_path: Path, docker_pool, monkeypatch
) -> None:
    secret = f"sk-ray-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, secret)  # exported before the run, as a user does
    try:
        start_local_ray({KEY_ENV})  # what `address = "auto"` does when no cluster answers
        assert os.environ[KEY_ENV] == secret  # the driver keeps its own
        seen, holding = _train_reading_ray_processes(tmp_path, docker_pool, secret)
    finally:
        ray.shutdown()
    assert _is_ray_core(seen), seen
    assert holding == []
