"""Helpers for the function store's tests: well-formed modules, actions, plain git and the CLI.

Every test works on a real repository made by `FunctionRepo.init` in a temp directory and,
where a command's exit code or a killed process matters, on the real `fnforge` executable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fnforge.protocol import Verdict

FNFORGE = str(Path(sys.executable).parent / "fnforge")


def module(name: str, body: str = "return float(len(xs))", params: str = "xs: list[float]",
           returns: str = "float", doc: str | None = None, head: str = "") -> str:  # fmt: skip
    """A well-formed function module."""
    doc = doc or f"{name} of the numbers."
    return f'{head}PACKAGES = []\n\n\ndef {name}({params}) -> {returns}:\n    """{doc}"""\n' + "".join(
        f"    {line}\n" for line in body.splitlines()
    )


def add(name: str, **kw: Any) -> dict[str, Any]:
    """An add_function action for a well-formed module."""
    tests = kw.pop("tests", None)
    out = {"action": "add_function", "name": name, "description": f"{name}.", "code": module(name, **kw)}
    if tests is not None:
        out["tests"] = tests
    return out


def revise(name: str, **kw: Any) -> dict[str, Any]:
    """A revise_function action."""
    return {**add(name, **kw), "action": "revise_function"}


def remove(name: str) -> dict[str, Any]:
    """A remove_function action."""
    return {"action": "remove_function", "name": name}


class ScoreGate:
    """A stand-in for the validation gate: passes when `after` beats `before`."""

    name = "validation"

    def __init__(self, before: float, after: float):
        self.before, self.after = before, after

    def check(self, candidate: Any) -> Verdict:
        passed = self.after > self.before
        reason = f"validation {self.before} -> {self.after}" + ("" if passed else ": no improvement")
        return Verdict(gate=self.name, passed=passed, reason=reason, score_before=self.before,
                       score_after=self.after)  # fmt: skip


def git(root: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    """Run plain git in a repository, as a user auditing it without fnforge would."""
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, input=input)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc.stdout


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the real `fnforge` executable."""
    return subprocess.run(
        [FNFORGE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )  # fmt: skip


def write_actions(path: Path, actions: list[dict[str, Any]]) -> Path:
    """Write an actions file."""
    path.write_text(json.dumps(actions))
    return path
