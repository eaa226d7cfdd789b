"""The warm pool on real containers: answers, isolation settings, replacement and clean-up."""

from __future__ import annotations

import os
import subprocess
import threading
import time

import docker
import pytest
from sandbox_helpers import assert_healthy, fn, ok_value

from fnforge.sandbox import SandboxUnavailable, WeakSandboxWarning, open_pool
from fnforge.sandbox.docker_backend import LABEL, LABEL_OWNER, DockerSandbox, owner_label


def sandbox_container_ids() -> set[str]:
    """Ids of every sandbox container (a plain listing: other test runs may remove theirs meanwhile)."""
    client = docker.from_env(version="auto")
    return {c["Id"] for c in client.api.containers(all=True, filters={"label": f"{LABEL}=1"})}


def containers_of_this_process() -> list:
    client = docker.from_env(version="auto")
    mine = client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner_label()}"})
    return [client.containers.get(c["Id"]) for c in mine]


def test_calls_from_many_threads_each_get_their_own_answer(pool2):
    functions = fn("square", "return x * x", "x: int", "int")
    results: dict[int, object] = {}

    def worker(base: int) -> None:
        for i in range(base, base + 10):
            res = pool2.call(functions, "square", {"x": i})
            results[i] = res.value if res.ok else res.error

    threads = [threading.Thread(target=worker, args=(b,)) for b in range(0, 120, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i * i for i in range(120)}


def test_a_function_imports_its_sibling_from_the_functions_package(pool):
    functions = {
        "double": "def double(x: int) -> int:\n    '''Twice x.'''\n    return 2 * x\n",
        "quad": "from functions.double import double\n\ndef quad(x: int) -> int:\n    '''Four times x.'''\n    return double(double(x))\n",
    }
    assert ok_value(pool, functions, "quad", {"x": 3}) == 12


def test_a_module_that_fails_to_load_reports_its_error_and_its_siblings_still_work(pool):
    functions = {
        "broken": "import no_such_package\n\ndef broken() -> int:\n    '''Never loads.'''\n    return 1\n",
        "fine": "def fine() -> int:\n    '''Loads.'''\n    return 1\n",
    }
    res = pool.call(functions, "broken", {})
    assert (
        res.error.type == "ModuleNotFoundError" and "functions/broken.py failed to load" in res.error.message
    )
    assert ok_value(pool, functions, "fine") == 1


def test_an_exception_comes_back_with_its_type_and_message(pool):
    res = pool.call(
        fn("picky", "raise ValueError('x must be positive, got %d' % x)", "x: int", "int"), "picky", {"x": -1}
    )
    assert not res.ok and res.error.type == "ValueError" and res.error.message == "x must be positive, got -1"
    assert res.error["type"] == "ValueError"  # also readable as the JSON object it is


def test_stdout_is_captured_per_call_and_never_mixed(pool):
    functions = fn("say", "print(word)\nreturn len(word)", "word: str", "int")
    first = pool.call(functions, "say", {"word": "alpha"})
    second = pool.call(functions, "say", {"word": "beta"})
    assert (first.stdout, first.value) == ("alpha\n", 5)
    assert (second.stdout, second.value) == ("beta\n", 4)


def test_a_set_is_imported_once_and_each_call_forks_from_it(pool):
    functions = {
        "stamp": "import time\nLOADED = time.time()\n\ndef stamp() -> float:\n    '''When the module was imported.'''\n    return LOADED\n"
    }
    assert ok_value(pool, functions, "stamp") == ok_value(pool, functions, "stamp")


def test_unknown_function_and_non_json_arguments_are_refused_before_the_sandbox(pool):
    assert pool.call(fn("a", "return 1"), "b", {}).error.type == "NameError"
    assert pool.call(fn("a", "return 1", "x: object"), "a", {"x": {1, 2}}).error.type == "NotJSON"


def test_containers_carry_every_isolation_setting(pool):
    assert_healthy(pool)
    [container] = containers_of_this_process()[:1] or [None]
    assert container is not None
    container.reload()
    host = container.attrs["HostConfig"]
    config = container.attrs["Config"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == 64
    assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 1_000_000_000
    assert host["LogConfig"]["Type"] == "none"
    assert host["IpcMode"] == "none"
    assert "noexec" in host["Tmpfs"]["/tmp"] and "size=16m" in host["Tmpfs"]["/tmp"]
    assert config["User"] == "10001:10001"
    mounts = container.attrs["Mounts"]
    assert len(mounts) == 1 and mounts[0]["Destination"] == "/opt/fnforge/worker" and mounts[0]["RW"] is False
    assert not any(
        v.split("=", 1)[0] in os.environ and v.split("=", 1)[1] == os.environ[v.split("=", 1)[0]]
        for v in config["Env"]
        if not v.startswith(("PATH=", "LANG=", "PYTHONDONTWRITEBYTECODE="))
    )


def test_a_worker_whose_container_dies_is_replaced_and_the_call_gets_the_error(docker_settings):
    with open_pool(docker_settings, size=1) as p:
        assert_healthy(p)
        [container] = containers_of_this_process_for(p)
        killer = threading.Timer(1.0, container.kill)
        killer.start()
        res = p.call(fn("nap", "import time\ntime.sleep(4)\nreturn 1", returns="int"), "nap", {})
        killer.join()
        assert res.error.type == "Crashed" and "replaced" in res.error.message
        assert_healthy(p)
        assert p.workers_started == 2


def test_a_worker_that_stops_answering_is_killed_at_the_host_deadline(docker_settings):
    with open_pool(docker_settings, size=1) as p:
        assert_healthy(p)
        [container] = containers_of_this_process_for(p)
        container.pause()  # the worker itself freezes: only the host's clock can end the call
        start = time.monotonic()
        res = p.call(fn("quick", "return 1", returns="int"), "quick", {}, timeout=1.0)
        assert res.error.type == "Timeout" and "did not answer" in res.error.message
        assert time.monotonic() - start < 10
        assert_healthy(p)
        assert p.workers_started == 2


def containers_of_this_process_for(p) -> list:
    """The container(s) behind a pool of one (the newest with our owner label)."""
    ids = {t.container.id for t in p.backend._mine}
    return [c for c in containers_of_this_process() if c.id in ids]


def test_closing_the_pool_removes_its_containers(docker_settings):
    with open_pool(docker_settings, size=2) as p:
        ids = {t.container.id for t in p.backend._mine}
        assert len(ids) == 2
    assert not ids & sandbox_container_ids()


def test_containers_of_a_crashed_owner_are_removed_by_the_next_pool(docker_settings):
    client = docker.from_env(version="auto")
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead_owner = f"{owner_label().split(':')[0]}:{gone.pid}:1"
    other_host = f"some-other-host:{os.getpid()}:1"
    stale = client.containers.create(
        docker_settings.image, ["true"], labels={LABEL: "1", LABEL_OWNER: dead_owner}
    )
    foreign = client.containers.create(
        docker_settings.image, ["true"], labels={LABEL: "1", LABEL_OWNER: other_host}
    )
    try:
        DockerSandbox(docker_settings)  # what open_pool does first
        remaining = sandbox_container_ids()
        assert stale.id not in remaining  # its owner process is gone
        assert foreign.id in remaining  # not ours to judge
    finally:
        for c in (stale, foreign):
            try:
                c.remove(force=True)
            except docker.errors.NotFound:
                pass


def test_docker_backend_without_the_image_says_how_to_build_it(docker_settings):
    settings = docker_settings.model_copy(update={"image": "fnforge-sandbox:no-such-tag"})
    with pytest.raises(SandboxUnavailable, match="fnforge sandbox build"):
        open_pool(settings, size=1)


def test_auto_backend_without_the_image_falls_back_to_processes_with_a_warning(docker_settings):
    settings = docker_settings.model_copy(update={"image": "fnforge-sandbox:no-such-tag", "backend": "auto"})
    with pytest.warns(WeakSandboxWarning, match="weaker|process backend"):
        with open_pool(settings, size=1) as p:
            assert p.backend_name == "process"
            assert ok_value(p, fn("one", "return 1", returns="int"), "one") == 1


def test_many_sets_with_heavy_imports_fit_because_old_sets_are_evicted(pool):
    for i in range(6):
        functions = {
            f"heavy{i}": (
                f"import numpy\nimport sympy\n\ndef heavy{i}() -> int:\n    '''Uses both libraries.'''\n"
                f"    return int(sympy.Integer({i})) + int(numpy.int64(1))\n"
            )
        }
        assert ok_value(pool, functions, f"heavy{i}") == i + 1
