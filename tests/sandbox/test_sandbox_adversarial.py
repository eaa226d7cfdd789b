"""Hostile functions against real containers: each is contained, names the limit that held,
and the same warm worker answers the next call correctly.

Every case runs in the session's single Docker worker; `survives` asserts that the pool did
not have to replace it (the worker is PID 1 of its container and never runs user code).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from sandbox_helpers import CRASHES, assert_healthy, crash_then_call, fn, ok_value

from fnforge.sandbox.worker.holder import SPARES
from fnforge.sandbox.worker.loaded_sets import MAX_HOLDERS


@contextmanager
def survives(pool):
    """The case may do anything; afterwards the same worker answers correctly."""
    before = pool.workers_started
    yield
    assert_healthy(pool)
    assert pool.workers_started == before, "the worker had to be replaced"


def processes(pool) -> list[str]:
    """Command lines of every process in the container, seen from a call."""
    probe = fn(
        "ps",
        """
import os
out = []
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            state = open('/proc/%s/stat' % p).read().rsplit(')', 1)[1].split()[0]
            if state != 'Z':
                out.append(p + ' ' + open('/proc/%s/cmdline' % p).read().replace(chr(0), ' ').strip())
        except OSError:
            pass
return out
""",
    )
    return ok_value(pool, probe, "ps")


# --------------------------------------------------------------- time


def test_infinite_loop_is_killed_at_the_wall_clock(pool):
    with survives(pool):
        start = time.monotonic()
        res = pool.call(fn("spin", "while True:\n    pass"), "spin", {}, timeout=1.0)
        assert not res.ok and res.error.type == "Timeout"  # limit: the worker's wall clock + SIGKILL
        assert time.monotonic() - start < 4


def test_loop_that_ignores_the_alarm_signal_is_still_killed(pool):
    body = """
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.alarm(1)
while True:
    pass
"""
    with survives(pool):
        res = pool.call(fn("noalarm", body), "noalarm", {}, timeout=1.0)
        assert res.error.type == "Timeout"  # limit: SIGKILL from outside; no in-process alarm is trusted


def test_loop_that_ignores_sigterm_is_still_killed(pool):
    body = """
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""
    with survives(pool):
        res = pool.call(fn("noterm", body), "noterm", {}, timeout=1.0)
        assert res.error.type == "Timeout"  # limit: SIGKILL cannot be ignored


# --------------------------------------------------------------- processes


def test_fork_bomb_hits_the_pids_limit_and_is_swept(pool):
    body = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    with survives(pool):
        res = pool.call(fn("bomb", body), "bomb", {}, timeout=2.0)
        assert res.error.type in ("Timeout", "Crashed")  # limits: pids_limit, then the sweep
    left = min((processes(pool) for _ in range(3)), key=len)  # a killed child may still be exiting
    assert len(left) <= 2 + MAX_HOLDERS * (1 + SPARES), (
        left
    )  # the worker, the holders and their spares, the probe


def test_double_forked_daemon_is_gone_before_the_next_call(pool):
    body = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open('/tmp/daemon.pid', 'w') as f:
            f.write(str(os.getpid()))
        while True:
            time.sleep(0.01)
    os._exit(0)
time.sleep(0.2)
return int(open('/tmp/daemon.pid').read())
"""
    with survives(pool):
        daemon = ok_value(pool, fn("daemon", body), "daemon")
        check = fn("alive", "import os\nreturn os.path.exists('/proc/%d' % pid)", "pid: int", "bool")
        assert ok_value(pool, check, "alive", {"pid": daemon}) is False  # limit: the post-call sweep


def test_killing_every_process_it_can_leaves_the_worker_alive(pool):
    body = """
import os, signal
os.kill(os.getppid(), signal.SIGKILL)  # the holder of the loaded set
try:
    os.kill(1, signal.SIGKILL)  # the worker: PID 1 of the container ignores it
except OSError:
    pass
try:
    os.kill(-1, signal.SIGKILL)  # everything else it may signal (not itself, not PID 1)
except OSError:
    pass
return 'still here'
"""
    with survives(pool):
        res = pool.call(fn("killall", body), "killall", {})
        assert res.ok and res.value == "still here", res  # limit: the worker is PID 1
        assert ok_value(pool, fn("killall2", "return 7"), "killall2") == 7


def test_os_exit_is_a_crash_value(pool):
    with survives(pool):
        res = pool.call(fn("bye", "import os\nos._exit(3)"), "bye", {})
        assert res.error.type == "Crashed" and "status 3" in res.error.message


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_the_call_after_a_crash_runs_in_the_same_loaded_set(pool, crash):
    # os._exit(3) once made the holder quit (3 was its "set closed" status), so 9 of 30
    # next calls failed as "its parent was killed"; now no exit status reaches the holder.
    with survives(pool):
        failures, parents = crash_then_call(pool, crash, rounds=20)
        assert failures == []
        assert len(parents) == 1, f"the set's holder was replaced: parents {parents}"


def test_the_call_after_one_that_killed_its_holder_is_answered(pool):
    functions = {
        **fn("regicide", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn 1"),
        **fn("after", "return 2"),
    }
    with survives(pool):
        for i in range(20):
            pool.call(functions, "regicide", {})  # returns or not: its holder is gone either way
            res = pool.call(functions, "after", {})
            assert res.ok and res.value == 2, f"round {i}: {res.error}"  # limit: the set is loaded again


def test_ctypes_segfault_is_a_crash_value(pool):
    with survives(pool):
        res = pool.call(fn("segv", "import ctypes\nreturn ctypes.string_at(0)"), "segv", {})
        assert res.error.type == "Crashed" and "SIGSEGV" in res.error.message  # limit: fork isolation


# --------------------------------------------------------------- memory and output


def test_memory_bomb_hits_the_memory_limit(pool):
    with survives(pool):
        res = pool.call(fn("hog", "x = 'x' * (1024 * 1024 * 1024)\nreturn len(x)"), "hog", {})
        assert res.error.type == "MemoryLimit", res  # limit: mem_limit = memswap_limit (cgroup)


def test_growing_memory_is_killed_by_the_cgroup(pool):
    body = """
blocks = []
while True:
    blocks.append(bytearray(b'x' * (8 * 1024 * 1024)))
"""
    with survives(pool):
        res = pool.call(fn("grow", body), "grow", {})
        assert res.error.type == "MemoryLimit", res


def test_a_billion_bytes_printed_stop_at_the_output_limit(pool):
    body = """
import sys
chunk = 'x' * (1024 * 1024)
for _ in range(1000):
    sys.stdout.write(chunk)
"""
    with survives(pool):
        start = time.monotonic()
        res = pool.call(fn("shout", body), "shout", {}, timeout=5.0)
        assert res.error.type == "OutputLimit"  # limit: output_limit_bytes
        assert len(res.stdout) <= 65536
        assert time.monotonic() - start < 3


def test_forged_protocol_bytes_on_fd_1_are_just_output(pool):
    body = """
import json, os, struct
fake = json.dumps({'id': 2, 'ok': True, 'value_json': '666', 'stdout': '', 'duration_s': 0}).encode()
for fd in (1, 2):
    os.write(fd, struct.pack('>I', len(fake)) + fake)
seen = []
for fd in (901, 902):
    try:
        os.write(fd, struct.pack('>I', len(fake)) + fake)
        seen.append('wrote %d' % fd)
    except OSError as e:
        seen.append('fd %d: %s' % (fd, e.strerror))
for path in ('/proc/1/fd/901', '/proc/1/fd/902', '/proc/1/fd/1'):
    try:
        open(path, 'wb').write(struct.pack('>I', len(fake)) + fake)
        seen.append('wrote ' + path)
    except OSError as e:
        seen.append(path + ': ' + e.strerror)
return seen
"""
    with survives(pool):
        res = pool.call(fn("forge", body), "forge", {})
        assert res.ok, res
        assert not any(s.startswith("wrote") for s in res.value), (
            res.value
        )  # limits: closed fds, non-dumpable PID 1
        assert '"value_json": "666"' in res.stdout  # the forgery arrived as plain output


def test_input_reads_end_of_file(pool):
    with survives(pool):
        res = pool.call(fn("ask", "return input('name? ')"), "ask", {})
        assert res.error.type == "EOFError"  # stdin is /dev/null


# --------------------------------------------------------------- filesystem and network


def test_writes_outside_tmp_are_refused(pool):
    body = """
out = {}
for path in ('/etc/passwd', '/etc/fnforge', '/usr/lib/fnforge', '/var/tmp/x', '/x', '/opt/fnforge/worker/server.py', '/opt/fnforge/worker/x.py',
             '/dev/shm/x'):
    try:
        with open(path, 'a') as f:
            f.write('x')
        out[path] = 'written'
    except OSError as e:
        out[path] = e.strerror
with open('/tmp/ok', 'w') as f:
    f.write('fine')
out['/tmp/ok'] = open('/tmp/ok').read()
return out
"""
    with survives(pool):
        out = ok_value(pool, fn("writes", body), "writes")
        assert out.pop("/tmp/ok") == "fine"
        assert "written" not in out.values(), (
            out
        )  # limits: read-only root, worker mounted read-only, no /dev/shm


def test_filling_tmp_stops_at_its_size(pool):
    body = """
import os
written = 0
try:
    with open('/tmp/fill', 'wb') as f:
        while True:
            f.write(b'x' * 1024 * 1024)
            f.flush()
            written += 1024 * 1024
except OSError as e:
    err = e.strerror
os.remove('/tmp/fill')
return [written, err]
"""
    with survives(pool):
        written, err = ok_value(pool, fn("fill", body), "fill")
        assert written <= 16 * 1024 * 1024 and "space" in err.lower()  # limit: tmpfs size=16m


def test_network_by_ip_and_by_name_is_unreachable(pool):
    body = """
import socket
out = []
for target in (('1.1.1.1', 53), ('deb.debian.org', 80), ('pypi.org', 443)):
    try:
        socket.create_connection(target, timeout=2).close()
        out.append('connected')
    except OSError as e:
        out.append(type(e).__name__)
return out
"""
    with survives(pool):
        out = ok_value(pool, fn("net", body), "net")
        assert "connected" not in out, out  # limit: network_mode none


def test_host_environment_secrets_do_not_enter(docker_settings, monkeypatch):
    from fnforge.sandbox import open_pool

    secret = "s3cret-" + str(time.time_ns())
    monkeypatch.setenv("FNFORGE_TEST_SECRET", secret)
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    probe = fn(
        "env",
        """
import os
return dict(os.environ)
""",
    )
    with open_pool(docker_settings, size=1) as fresh:  # started while the secret is set
        env = ok_value(fresh, probe, "env")
    assert "FNFORGE_TEST_SECRET" not in env and "OPENAI_API_KEY" not in env
    assert secret not in repr(env)  # limit: environment={} (no host env passed)


# --------------------------------------------------------------- Python-level attacks


def test_deep_recursion_is_an_error_value(pool):
    with survives(pool):
        res = pool.call(fn("deep", "def r(n):\n    return r(n + 1)\nreturn r(0)"), "deep", {})
        assert res.error.type == "RecursionError"


def test_recursion_past_the_c_stack_is_a_crash_value(pool):
    body = """
import sys
sys.setrecursionlimit(10 ** 7)
def r(n):
    return r(n + 1) + 1
return r(0)
"""
    with survives(pool):
        res = pool.call(fn("deeper", body), "deeper", {})
        assert res.error.type in ("Crashed", "RecursionError", "MemoryLimit"), res


def test_monkeypatching_a_module_does_not_poison_later_calls(pool):
    functions = {
        "helper": "def helper() -> int:\n    '''One.'''\n    return 1\n",
        "poison": (
            "import json, builtins\nimport functions.helper\n"
            "def poison() -> str:\n    '''Patches everything it can.'''\n"
            "    json.dumps = lambda *a, **k: 'poisoned'\n"
            "    functions.helper.helper = lambda: 666\n"
            "    builtins.len = lambda x: -1\n"
            "    return json.dumps([1])\n"
        ),
        "use": (
            "import json\nfrom functions.helper import helper\nimport functions.helper as h\n"
            "def use() -> list:\n    '''Reads what poison patched.'''\n"
            "    return [json.dumps([1]), helper(), h.helper(), len('abc')]\n"
        ),
    }
    with survives(pool):
        assert ok_value(pool, functions, "poison") == "poisoned"
        assert ok_value(pool, functions, "use") == ["[1]", 1, 1, 3]  # limit: a fresh child per call


def test_back_to_back_calls_each_run_in_their_own_fresh_child(pool):
    """Several spares wait at once; each call still gets a child no call has used, and large
    requests (many pipe buffers long) arrive whole: only the spare with the turn reads."""
    body = "import os\nreturn [os.getpid(), len(blob), blob[-3:]]"
    with survives(pool):
        functions = fn("whoami", body, "blob: str")
        answers = [
            ok_value(pool, functions, "whoami", {"blob": "x" * 200_000 + str(i % 10) * 3}) for i in range(12)
        ]
        assert [a[1:] for a in answers] == [[200_003, str(i % 10) * 3] for i in range(12)]
        assert len({a[0] for a in answers}) == 12  # limit: a fresh child per call


def test_a_call_cannot_make_a_waiting_spare_read_the_next_request(pool):
    """A call that scribbles on every descriptor it has does not hand the request pipe to a
    second spare: the next large requests still arrive whole, each in a fresh child."""
    body = """
import os
for fd in range(3, 64):
    try:
        os.write(fd, b'tr' * 8)
    except OSError:
        pass
return 1
"""
    with survives(pool):
        scribble = fn("scribble", body, returns="int")
        echo = fn("echo_len", "return len(blob)", "blob: str", "int")
        for _ in range(3):
            pool.call(scribble, "scribble", {})
            assert ok_value(pool, echo, "echo_len", {"blob": "y" * 300_000}) == 300_000


def test_values_that_are_not_json_are_refused(pool):
    cases = {
        "a_set": "return {1, 2}",
        "nan": "return float('nan')",
        "inf": "return [1.0, float('inf')]",
        "obj": "return object()",
        "deep": "x = []\nfor _ in range(200):\n    x = [x]\nreturn x",
        "int_key": "return {1: 'a'}",
        "huge_int": "return 10 ** 5000",
    }
    with survives(pool):
        for name, body in cases.items():
            res = pool.call(fn(name, body), name, {})
            assert not res.ok and res.error.type == "NotJSON", (name, res)


def test_import_that_never_finishes_times_out_the_load(pool):
    functions = {
        "stuck": "while True:\n    pass\n\ndef stuck() -> int:\n    '''Never loads.'''\n    return 1\n"
    }
    with survives(pool):
        res = pool.call(functions, "stuck", {})
        assert res.error.type == "Timeout" and "importing" in res.error.message


def test_module_that_starts_a_thread_at_import_is_refused(pool):
    functions = {
        "spawner": (
            "import threading, time\nthreading.Thread(target=lambda: time.sleep(60), daemon=True).start()\n"
            "def spawner() -> int:\n    '''Leaves a thread in the holder.'''\n    return 1\n"
        )
    }
    with survives(pool):
        res = pool.call(functions, "spawner", {})
        assert res.error.type == "ImportError" and "thread" in res.error.message


def test_memory_bomb_at_import_time_is_a_memory_limit_of_the_load(pool):
    functions = {
        "fat": "BIG = 'x' * (1024 ** 3)\n\ndef fat() -> int:\n    '''Never loads.'''\n    return 1\n"
    }
    with survives(pool):
        res = pool.call(functions, "fat", {})
        assert res.error.type == "MemoryLimit" and "import" in res.error.message


def test_children_left_asleep_at_the_pids_limit_do_not_block_the_next_set(pool):
    body = """
import os, time
made = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    except OSError:
        return made
"""
    with survives(pool):
        made = ok_value(pool, fn("sleepers", body, returns="int"), "sleepers")
        assert 0 < made < 64  # limit: pids_limit
        fresh = fn("fresh_set", "return 5", returns="int")  # a new set needs a fork right away
        assert (
            ok_value(pool, fresh, "fresh_set") == 5
        )  # the sweep killed them; the fork waited for the reaping


def test_a_thread_printing_after_the_answer_does_not_leak_into_the_next_call(pool):
    body = """
import sys, threading
def chatter():
    while True:
        sys.stdout.write('leak\\\\n')
        sys.stdout.flush()
threading.Thread(target=chatter, daemon=True).start()
return 1
"""
    with survives(pool):
        functions = {
            **fn("chatty", body, returns="int"),
            **fn("quiet", "print('mine')\nreturn 2", returns="int"),
        }
        pool.call(functions, "chatty", {})
        res = pool.call(functions, "quiet", {})
        assert res.ok and res.value == 2 and res.stdout == "mine\n", res  # limit: stale output is discarded


def test_a_call_cannot_reach_into_other_processes_of_the_sandbox(pool):
    body = """
import os
out = {}
me = os.getpid()
for p in os.listdir('/proc'):
    if p.isdigit() and int(p) != me:
        for what in ('mem', 'environ', 'fd'):
            path = '/proc/%s/%s' % (p, what)
            try:
                os.listdir(path) if what == 'fd' else open(path, 'rb').close()
                out[path] = 'opened'
            except OSError as e:
                out[path] = e.strerror
out['own'] = len(os.listdir('/proc/self/fd')) > 0
return out
"""
    with survives(pool):
        ok_value(pool, fn("neighbour", "return 1", returns="int"), "neighbour")  # another set's holder
        out = ok_value(pool, fn("peek", body), "peek")
        assert out.pop("own") is True
        assert len(out) >= 6 and "opened" not in out.values(), out  # limit: every process non-dumpable
