"""Helpers the sandbox tests share (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from fnforge.sandbox import SandboxPool


def ok_value(pool: SandboxPool, functions: dict[str, str], name: str, args: dict | None = None):
    """Call and insist that it returned; the value."""
    res = pool.call(functions, name, args or {})
    assert res.ok, f"{name} failed: {res.error}"
    return res.value


HEALTH = {"health": "def health(x: int) -> int:\n    '''Doubles x.'''\n    return 2 * x\n"}


def assert_healthy(pool: SandboxPool) -> None:
    """The next call after a bad one is answered correctly."""
    assert ok_value(pool, HEALTH, "health", {"x": 21}) == 42


def fn(name: str, body: str, params: str = "", returns: str = "object", imports: str = "") -> dict[str, str]:
    """A one-function set whose function `name` runs `body`."""
    lines = body.strip("\n").splitlines()
    indented = "\n".join("    " + line for line in lines)
    return {name: f"{imports}\ndef {name}({params}) -> {returns}:\n    '''Test case.'''\n{indented}\n"}


# A call that ends its own process in each way a call can, beside a harmless function of the
# same set that names its parent: the set's holder, which must live through every crash.
CRASHES = {
    "exit_3": "import os\nos._exit(3)",  # 3: the status the worker once read as "set closed"
    "segv": "import ctypes\nreturn ctypes.string_at(0)",
    "sigkill": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
}


def crash_then_call(pool: SandboxPool, crash: str, rounds: int) -> tuple[list[str], set[int]]:
    """Call the crashing function then its harmless neighbour `rounds` times; the follow-up
    calls that failed, and the parent pids the successful ones reported."""
    functions = {**fn(crash, CRASHES[crash]), **fn("parent", "import os\nreturn os.getppid()", returns="int")}
    failures: list[str] = []
    parents: set[int] = set()
    for i in range(rounds):
        crashed = pool.call(functions, crash, {})
        assert not crashed.ok, f"round {i}: {crash} returned {crashed.value!r}"
        res = pool.call(functions, "parent", {})
        if res.ok:
            parents.add(res.value)
        else:
            failures.append(f"round {i}: {res.error.type}: {res.error.message}")
    return failures, parents
