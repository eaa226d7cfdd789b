"""How a command reaches a function repository: the `--repo` option, opening it, its errors.

Every command that works on a repository takes the same `--repo` option, opens it the same
way, and turns what a user can get wrong (no repository there, a bad fnforge.toml, an
unknown step, a dirty tree) into one line on stderr with exit code 2 (`output.fail`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from fnforge.cli.output import fail
from fnforge.config import ConfigError
from fnforge.function_repo import ActionError, FunctionRepo, RepoError

REPO_OPTION = typer.Option(
    Path("."), "--repo", "-r", help="The function repository (made by `fnforge init`)."
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Inside it, a repository, action or config error a user caused ends the command in one line."""
    try:
        yield
    except (RepoError, ActionError, ConfigError) as e:
        fail(str(e))


def open_repo(path: Path) -> FunctionRepo:
    """The function repository at `path` (RepoError saying what to do when there is none)."""
    return FunctionRepo.open(path)
