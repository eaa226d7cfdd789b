"""A plain CandidateView for gate tests (what function_repo hands a gate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Action:
    action: str
    name: str


@dataclass
class Candidate:
    functions: dict[str, str]
    changed: list[str]
    tests: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    base_functions: dict[str, str] = field(default_factory=dict)
    actions: list[Any] = field(default_factory=list)
    step: int = 1
    run: str = "test"
    tree_sha: str = ""
    commit_sha: str = ""


def module(
    name: str,
    body: str,
    params: str = "x: int",
    returns: str = "int",
    doc: str = "Test function.",
    header: str = "PACKAGES = []\n",
) -> str:
    """A well-formed functions/<name>.py."""
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f'{header}\n\ndef {name}({params}) -> {returns}:\n    """{doc}"""\n{indented}\n'
