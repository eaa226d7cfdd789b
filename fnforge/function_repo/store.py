"""What the writing porcelain needs of a repository, as a protocol.

`steps.py` (propose, judge, rollback) works on a `FunctionRepo`, and `FunctionRepo` exposes
those steps as methods. Typing the porcelain against this protocol instead of the class
keeps the import graph one-way: `repo` imports `steps`, `steps` imports only this module.
`FunctionRepo` satisfies it structurally; nothing registers or subclasses it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from fnforge.function_repo.history import StepRecord
from fnforge.function_repo.plumbing import Git


class StepStore(Protocol):
    """The part of a function repository the porcelain in `steps.py` reads and writes."""

    branch: str
    git: Git
    git_dir: Path

    def lock(self) -> AbstractContextManager[None]: ...
    def head(self) -> str: ...
    def functions(self, ref: int | str | None = None) -> dict[str, str]: ...
    def tests(self, ref: int | str | None = None) -> dict[str, str]: ...
    def step(self, n: int) -> StepRecord: ...
    def next_step(self) -> int: ...
    def checked_out(self) -> bool: ...
    def recover(self) -> list[str]: ...
    def ensure_clean(self) -> None: ...
