"""`CallResult.retryable`: the sandbox says, as a field, when nothing of a call ran.

The engine repeats such a call (so a run's scores do not depend on machine load) and must
repeat nothing else; it once decided by matching phrases in the error message, so a
function that raised "did not start" was run three times.
"""

from __future__ import annotations

import asyncio

from sandbox_helpers import assert_healthy, fn, ok_value

from fnforge.engine.toolbox import sandbox_call
from fnforge.sandbox import open_pool

# the first call stops its own set's holder (SIGSTOP): the holder then hands no more turns to
# its spares, so a later call of the same set reaches no child at all
FROZEN_HOLDER = {
    **fn("freeze", "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nreturn 1"),
    **fn("quick", "return 2"),
}


def stuck_call(pool) -> object:
    """Freeze a set's holder, then call it until a call finds no child to take it."""
    pool.call(FROZEN_HOLDER, "freeze", {})
    for _ in range(4):
        res = pool.call(FROZEN_HOLDER, "quick", {}, timeout=1.0)
        if not res.ok:
            return res
    raise AssertionError("every call was answered although the set's holder was stopped")


def test_a_call_no_child_took_is_retryable_and_says_so(pool):
    res = stuck_call(pool)
    assert res.error.type == "Timeout" and "did not start" in res.error.message
    assert res.retryable is True
    assert_healthy(pool)
    assert ok_value(pool, FROZEN_HOLDER, "quick") == 2  # the stuck set was replaced: it loads again


def test_a_function_that_ran_is_not_retryable_whatever_its_message_says(pool):
    functions = fn("liar", "raise RuntimeError('the call did not start; could not start a sandbox worker')")
    res = pool.call(functions, "liar", {})
    assert res.error.type == "RuntimeError" and res.retryable is False
    slow = pool.call(fn("slow", "while True:\n    pass"), "slow", {}, timeout=0.5)
    assert slow.error.type == "Timeout" and slow.retryable is False  # it ran: repeating could differ


def test_a_call_when_no_worker_can_start_is_retryable(docker_settings):
    with open_pool(docker_settings, size=1) as p:
        assert_healthy(p)
        # from now on every new worker fails to start: its image does not exist
        p.backend.settings = docker_settings.model_copy(update={"image": "fnforge-sandbox-missing:none"})
        [transport] = list(p.backend._mine)
        transport.container.kill()
        lost = p.call(fn("one", "return 1"), "one", {})
        assert lost.error.type == "Crashed" and lost.retryable is False  # it may have run
        res = p.call(fn("one", "return 1"), "one", {})
        assert res.error.type == "Crashed" and "could not start a sandbox worker" in res.error.message
        assert res.retryable is True


def test_the_engine_repeats_a_call_no_child_took_and_nothing_else(pool):
    """sandbox_call: the stuck set's call is answered on a repeat; a raising function runs once."""
    pool.call(FROZEN_HOLDER, "freeze", {})
    answers = [asyncio.run(sandbox_call(pool, FROZEN_HOLDER, "quick", {}, 1.0)) for _ in range(4)]
    assert all(a.ok and a.value == 2 for a in answers), [a.error for a in answers]
    counted = {
        **fn(
            "count_and_fail", "open('/tmp/retry-count', 'a').write('x')\nraise RuntimeError('did not start')"
        ),
        **fn("count", "import os\nreturn os.path.getsize('/tmp/retry-count')", returns="int"),
    }
    res = asyncio.run(sandbox_call(pool, counted, "count_and_fail", {}, 5.0))
    assert res.error.type == "RuntimeError"
    assert ok_value(pool, counted, "count") == 1
