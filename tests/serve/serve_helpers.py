"""A real function repository to serve, and the real `fnforge` executable to serve it.

The set holds a well-behaved function, one that never returns, one that kills its own
process and one that sleeps, committed without gates: a server must withstand whatever is
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
TIMEOUT_S = 2.0  # the served repository's per-call limit

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
CRASH = '''import os

PACKAGES = []


def crash(code: int) -> int:
    """End its own process at once with an exit status."""
    os._exit(code)
'''
NAP = '''import time

PACKAGES = []


def nap(seconds: float) -> float:
    """Sleep a while, then say how long."""
    time.sleep(seconds)
    return seconds
'''
MODULES = {"add_numbers": ADD, "spin": SPIN, "crash": CRASH, "nap": NAP}


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
