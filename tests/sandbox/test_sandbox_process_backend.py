"""The process backend: the same worker and answers without a container, and it says it is weaker.

Only the cases that make sense outside a PID namespace and a cgroup run here (no fork
bombs on the host); the Docker suite covers the rest.
"""

from __future__ import annotations

import warnings

import pytest
from sandbox_helpers import CRASHES, assert_healthy, crash_then_call, fn, ok_value

from fnforge.config import SandboxSettings
from fnforge.sandbox import WeakSandboxWarning, open_pool
from fnforge.sandbox.process_backend import WEAKER


def test_choosing_the_process_backend_warns_that_it_is_weaker():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_pool(SandboxSettings(backend="process"), size=1) as p:
            assert p.backend_name == "process"
    assert any(issubclass(w.category, WeakSandboxWarning) and WEAKER in str(w.message) for w in caught)


def test_timeout_kills_only_the_child_and_the_next_call_works(process_pool):
    res = process_pool.call(fn("spin", "while True:\n    pass"), "spin", {}, timeout=1.0)
    assert res.error.type == "Timeout"
    assert_healthy(process_pool)


def test_os_exit_and_segfault_are_crash_values(process_pool):
    assert process_pool.call(fn("bye", "import os\nos._exit(4)"), "bye", {}).error.type == "Crashed"
    res = process_pool.call(fn("segv", "import ctypes\nreturn ctypes.string_at(0)"), "segv", {})
    assert res.error.type == "Crashed" and "SIGSEGV" in res.error.message
    assert_healthy(process_pool)


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_the_call_after_a_crash_runs_in_the_same_loaded_set(process_pool, crash):
    failures, parents = crash_then_call(process_pool, crash, rounds=20)
    assert failures == []
    assert len(parents) == 1, f"the set's holder was replaced: parents {parents}"


def test_memory_over_the_address_space_limit_is_a_memory_limit(process_pool):
    res = process_pool.call(fn("hog", "return len('x' * (2 * 1024 ** 3))"), "hog", {})
    assert res.error.type == "MemoryLimit"  # limit: RLIMIT_AS
    assert_healthy(process_pool)


def test_output_limit_and_forged_bytes_on_fd_1(process_pool):
    res = process_pool.call(
        fn("shout", "import sys\nfor _ in range(10 ** 4):\n    sys.stdout.write('x' * 1000)"), "shout", {}
    )
    assert res.error.type == "OutputLimit"
    forge = fn(
        "forge", "import os, struct\nos.write(1, struct.pack('>I', 9) + b'{\"id\":99}')\nreturn 'real'"
    )
    res = process_pool.call(forge, "forge", {})
    assert res.ok and res.value == "real" and '{"id":99}' in res.stdout


def test_monkeypatching_does_not_poison_later_calls(process_pool):
    functions = {
        "patch": "import json\n\ndef patch() -> str:\n    '''Patches json.'''\n    json.dumps = lambda *a, **k: 'poisoned'\n    return json.dumps(1)\n",
        "use": "import json\n\ndef use() -> str:\n    '''Uses json.'''\n    return json.dumps(1)\n",
    }
    assert ok_value(process_pool, functions, "patch") == "poisoned"
    assert ok_value(process_pool, functions, "use") == "1"


def test_input_eof_and_non_json_values(process_pool):
    assert process_pool.call(fn("ask", "return input()"), "ask", {}).error.type == "EOFError"
    assert process_pool.call(fn("nan", "return float('nan')"), "nan", {}).error.type == "NotJSON"


def test_host_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("FNFORGE_TEST_SECRET", "hunter2-process")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open_pool(SandboxSettings(backend="process"), size=1) as p:
            env = ok_value(p, fn("env", "import os\nreturn dict(os.environ)"), "env")
    assert "FNFORGE_TEST_SECRET" not in env and "hunter2-process" not in repr(env)
    assert set(env) <= {
        "PATH",
        "LANG",
        "HOME",
        "TMPDIR",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "LC_CTYPE",
    }


def test_a_non_root_worker_is_held_to_the_process_limit():
    """RLIMIT_NPROC (only meaningful for a non-root user): run the real worker as `nobody`."""
    import json
    import os
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from fnforge.protocol import set_hash
    from fnforge.sandbox.backend import WORKER_DIR
    from fnforge.sandbox.process_backend import ProcessTransport
    from fnforge.sandbox.transport import WorkerClient

    tmp_path = Path(tempfile.mkdtemp(prefix="fnforge-nobody-"))  # pytest's tmp_path is private to root
    python = "/usr/bin/python3"  # the system interpreter: readable by `nobody`, unlike a venv under /root
    assert os.path.exists(python), "the test runs the stdlib-only worker with the system python3"
    worker = tmp_path / "worker"
    shutil.copytree(WORKER_DIR, worker, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (tmp_path, worker, *worker.iterdir()):
        path.chmod(0o755)
    config = {"output_limit": 65536, "contained": False, "rlimits": {"nproc_extra": 16}}
    proc = subprocess.Popen(
        [python, "-I", str(worker / "__main__.py"), json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        user="nobody",
        start_new_session=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    client = WorkerClient(ProcessTransport(proc, str(tmp_path / "gone")))
    try:
        assert client.request({"op": "ping"}, 10)["uid"] != 0
        functions = fn(
            "forks",
            """
import os, time
made = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(2)
            os._exit(0)
        made += 1
    except OSError:
        break
return made
""",
            returns="int",
        )
        key = set_hash(functions)
        assert client.request({"op": "load", "set": key, "modules": functions, "timeout": 10}, 15)["ok"]
        reply = client.request({"op": "call", "set": key, "name": "forks", "args": {}, "timeout": 10}, 15)
        assert reply["ok"] and int(reply["value_json"]) < 16  # limit: RLIMIT_NPROC = user's processes + 16
    finally:
        client.kill()
        shutil.rmtree(tmp_path, ignore_errors=True)
