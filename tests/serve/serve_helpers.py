"""A real function repository to serve, and the real `fnforge` executable to serve it.

The set holds a well-behaved function, one that never returns, one that segfaults, one
that wants more memory than the limit and one that sleeps, committed without gates: a server must withstand whatever is
on the branch, since the sandbox, not the gates, is the security boundary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fnforge.config import render_template
from fnforge.function_repo import FunctionRepo

FNFORGE = str(Path(sys.executable).parent / "fnforge")
WORKTREE = Path(__file__).resolve().parents[2]
TIMEOUT_S = 3.0  # the served repository's per-call limit

ADD = '''PACKAGES = []


def add_numbers(a: int, b: int = 1) -> int:
    """Add two whole numbers.

    Args:
        a: the first number
        b: the second number
    """
    return a + b
'''
SPIN = '''PACKAGES = []


def spin(label: str) -> str:
    """Never return (a function that hangs)."""
    while True:
        label = label + ""
'''
CRASH = '''import ctypes

PACKAGES = []


def crash(code: int) -> int:
    """Read address zero: the process dies of SIGSEGV."""
    return ctypes.string_at(code)
'''
NAP = '''import time

PACKAGES = []


def nap(seconds: float) -> float:
    """Sleep a while, then say how long."""
    time.sleep(seconds)
    return seconds
'''
HOG = '''PACKAGES = []


def hog(megabytes: int) -> int:
    """Hold a string of that many megabytes."""
    held = "x" * (megabytes * 1024 * 1024)
    return len(held)
'''
MODULES = {"add_numbers": ADD, "spin": SPIN, "crash": CRASH, "nap": NAP, "hog": HOG}


def make_repo(root: Path, pool: int = 2, queue: int = 16) -> FunctionRepo:
    """A repository on the Docker sandbox with a short call limit, holding MODULES as step 1."""
    config = render_template("gsm8k").replace('backend = "auto"', 'backend = "docker"')
    config = config.replace("timeout_s = 5.0", f"timeout_s = {TIMEOUT_S}").replace(
        "pool = 4 ", f"pool = {pool} "
    )
    config = config.replace("queue = 16", f"queue = {queue}")
    repo = FunctionRepo.init(root, task="gsm8k", config_text=config)
    assert repo.settings.sandbox.pool == pool and repo.settings.sandbox.timeout_s == TIMEOUT_S
    actions = [{"action": "add_function", "name": n, "code": src} for n, src in MODULES.items()]
    assert repo.run_step(actions, []).accepted
    return repo


def env() -> dict[str, str]:
    """The environment a served subprocess needs: this worktree first on PYTHONPATH."""
    path = os.pathsep.join(p for p in [str(WORKTREE), os.environ.get("PYTHONPATH", "")] if p)
    out = {k: v for k, v in os.environ.items() if k != "FNFORGE_SERVE_TOKEN"}
    return {**out, "PYTHONPATH": path, "COLUMNS": "200"}


def cli(
    *args: str, extra_env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `fnforge` executable to completion."""
    return subprocess.run(
        [FNFORGE, *args], capture_output=True, text=True, timeout=timeout, env={**env(), **(extra_env or {})}
    )


def exported_tools(root: Path) -> list[dict[str, Any]]:
    """What `fnforge export --format tools-json` writes for the repository."""
    out = root.parent / "tools.json"
    done = cli("export", "--format", "tools-json", "--repo", str(root), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def text_of(result: Any) -> str:
    """All the text blocks of a tool result, joined."""
    return "\n".join(block.text for block in result.content)


async def exercise(session: Any, root: Path) -> None:
    """The whole contract over one live session, whatever the transport.

    The tools equal the export's; a call returns its value; a call that hangs, one with
    bad arguments, one whose process dies and one to a tool that does not exist each come
    back as errors naming why; and after each the server still answers.
    """
    init = await session.initialize()
    head = FunctionRepo.open(root)
    commit = head.head()
    head.close()
    info = init.server_info
    assert (
        "step 1" in info.title and commit[:12] in info.title and info.version == f"0.1+step1.g{commit[:12]}"
    )
    assert commit in info.description and "docker sandbox" in info.description

    listed = (await session.list_tools()).tools
    exported = exported_tools(root)
    assert [(t.name, t.description, t.input_schema) for t in listed] == [
        (e["function"]["name"], e["function"]["description"], e["function"]["parameters"]) for e in exported
    ]

    async def still_answers(a: int) -> None:
        res = await session.call_tool("add_numbers", {"a": a, "b": 10})
        assert not res.is_error and json.loads(text_of(res)) == a + 10, text_of(res)

    ok = await session.call_tool("add_numbers", {"a": 2})
    assert not ok.is_error and json.loads(text_of(ok)) == 3  # the default of b applies

    hung = await session.call_tool("spin", {"label": "x"})
    assert hung.is_error and text_of(hung).startswith("Timeout:") and f"{TIMEOUT_S:g}s" in text_of(hung)
    await still_answers(1)

    wrong_type = await session.call_tool("add_numbers", {"a": "two"})
    assert (
        wrong_type.is_error and text_of(wrong_type) == "InvalidArguments: a: 'two' is not of type 'integer'"
    )
    missing = await session.call_tool("add_numbers", {"b": 2})
    assert missing.is_error and "'a' is a required property" in text_of(missing)
    unknown = await session.call_tool("add_numbers", {"a": 1, "c": 2})
    assert unknown.is_error and "unknown argument c; the tool takes a, b" in text_of(unknown)
    await still_answers(2)

    crashed = await session.call_tool("crash", {"code": 0})
    assert crashed.is_error and text_of(crashed).startswith("Crashed:") and "SIGSEGV" in text_of(crashed)
    await still_answers(3)

    hogged = await session.call_tool("hog", {"megabytes": 1024})
    assert hogged.is_error and text_of(hogged).startswith("MemoryLimit:"), text_of(hogged)
    await still_answers(5)

    try:
        await session.call_tool("no_such_tool", {})
    except Exception as e:  # an unknown tool is a protocol error (JSON-RPC -32602), per the MCP spec
        assert "no tool named 'no_such_tool'" in str(e) and "add_numbers" in str(e)
    else:
        raise AssertionError("calling an unknown tool did not fail")
    await still_answers(4)
