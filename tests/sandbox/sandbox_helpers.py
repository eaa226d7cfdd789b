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
