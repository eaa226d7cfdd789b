"""The few git operations the store is built from: run a command, write a blob, move a ref.

git itself is the model: porcelain (propose, judge, rollback) is built from a handful of
plumbing calls that never touch the user's index or work tree until a step is decided.
Commands that read stdin go through `subprocess` directly (GitPython's `execute` has no
input parameter); everything else may use GitPython's `repo.git.<cmd>`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from fnforge.function_repo.errors import RepoError

ZERO = "0" * 40
FALLBACK_NAME = "fnforge"
FALLBACK_EMAIL = "fnforge@localhost"


class GitFailed(RepoError):
    """A git command failed; the message carries the command and git's own words."""


def identity_env(root: Path) -> dict[str, str]:
    """Git author/committer variables to use when neither the environment nor config has one.

    Why: a fresh CI machine has no `user.name`; fnforge must still commit (as
    `fnforge <fnforge@localhost>`), never fail for that. Config is read with GitPython's
    parser (files only, no git process).
    """
    import git  # GitPython runs `git version` on import: only pay for it when writing

    with git.Repo(root) as repo:
        reader = repo.config_reader()
        name = reader.get_value("user", "name", default="")
        email = reader.get_value("user", "email", default="")
    env: dict[str, str] = {}
    for role in ("AUTHOR", "COMMITTER"):
        if not os.environ.get(f"GIT_{role}_NAME") and not name:
            env[f"GIT_{role}_NAME"] = FALLBACK_NAME
        if not os.environ.get(f"GIT_{role}_EMAIL") and not email:
            env[f"GIT_{role}_EMAIL"] = FALLBACK_EMAIL
    return env


class Git:
    """Runs git in one repository with the identity fallback and an optional private index."""

    def __init__(self, root: Path, identity: Callable[[], dict[str, str]] | None = None):
        self.root = Path(root)
        self._identity_source = identity or (lambda: identity_env(self.root))

    @cached_property
    def _writer_env(self) -> dict[str, str]:
        return {**os.environ, **self._identity_source()}

    def run(
        self,
        *args: str,
        input: str | bytes | None = None,
        index_file: Path | None = None,
        check: bool = True,
        identity: bool = False,
    ) -> str:
        """Run `git args...`; return stdout without the trailing newline.

        `identity=True` for commands that create commits (they need an author).
        """
        env = self._writer_env if identity else None
        if index_file is not None:
            env = {**(env or os.environ), "GIT_INDEX_FILE": str(index_file)}
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(["git", *args], cwd=self.root, env=env, input=data, capture_output=True)
        if check and proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            raise GitFailed(f"git {' '.join(args[:3])} failed: {msg[-1] if msg else 'no output'}")
        out = proc.stdout.decode(errors="replace")
        return out[:-1] if out.endswith("\n") else out

    def ok(self, *args: str) -> bool:
        """True when `git args...` exits 0 (for yes/no questions such as `diff --quiet`)."""
        return subprocess.run(["git", *args], cwd=self.root, capture_output=True).returncode == 0

    def read_blob(self, sha: str) -> bytes:
        """A blob's exact bytes (run() would drop a trailing newline)."""
        proc = subprocess.run(["git", "cat-file", "blob", sha], cwd=self.root, capture_output=True)
        if proc.returncode != 0:
            raise GitFailed(f"git cat-file blob {sha} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def write_blob(self, text: str) -> str:
        """Store a file's content as a blob; return its sha."""
        return self.run("hash-object", "-w", "--stdin", input=text)

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        """Create a commit object (no ref moves); return its sha."""
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.run(*args, "-F", "-", input=message, identity=True)

    def move_ref(self, ref: str, new: str, old: str | None) -> None:
        """Atomically point `ref` at `new` if it still holds `old` (None: must not exist yet)."""
        self.run("update-ref", ref, new, old if old is not None else "")

    def delete_ref(self, ref: str) -> None:
        """Delete a ref (no error when it is already gone)."""
        self.run("update-ref", "-d", ref, check=False)

    def add_note(self, sha: str, text: str) -> None:
        """Attach (or replace) the fnforge JSON note on a commit."""
        self.run("notes", "--ref", "fnforge", "add", "-f", "-F", "-", sha, input=text, identity=True)
