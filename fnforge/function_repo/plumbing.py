"""The few git operations the store is built from: run a command, write a blob, move a ref.

git itself is the model: porcelain (propose, judge, rollback) is built from a handful of
plumbing calls that never touch the user's index or work tree until a step is decided.
Commands that read stdin go through `subprocess` directly (GitPython's `execute` has no
input parameter); everything else may use GitPython's `repo.git.<cmd>`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import git

from fnforge.function_repo.errors import RepoError

ZERO = "0" * 40
FALLBACK_NAME = "fnforge"
FALLBACK_EMAIL = "fnforge@localhost"


class GitFailed(RepoError):
    """A git command failed; the message carries the command and git's own words."""


def identity_env(repo: git.Repo) -> dict[str, str]:
    """Git author/committer variables to use when neither the environment nor config has one.

    Why: a fresh CI machine has no `user.name`; fnforge must still commit (as
    `fnforge <fnforge@localhost>`), never fail for that.
    """
    env: dict[str, str] = {}
    reader = repo.config_reader()
    name = reader.get_value("user", "name", default="")
    email = reader.get_value("user", "email", default="")
    for role in ("AUTHOR", "COMMITTER"):
        if not os.environ.get(f"GIT_{role}_NAME") and not name:
            env[f"GIT_{role}_NAME"] = FALLBACK_NAME
        if not os.environ.get(f"GIT_{role}_EMAIL") and not email:
            env[f"GIT_{role}_EMAIL"] = FALLBACK_EMAIL
    return env


class Git:
    """Runs git in one repository with the identity fallback and an optional private index."""

    def __init__(self, root: Path, extra_env: Mapping[str, str]):
        self.root = Path(root)
        self.env = {**os.environ, **extra_env}

    def run(
        self,
        *args: str,
        input: str | bytes | None = None,
        index_file: Path | None = None,
        check: bool = True,
    ) -> str:
        """Run `git args...`; return stdout without the trailing newline."""
        env = self.env if index_file is None else {**self.env, "GIT_INDEX_FILE": str(index_file)}
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(["git", *args], cwd=self.root, env=env, input=data, capture_output=True)
        if check and proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip().splitlines()
            raise GitFailed(f"git {' '.join(args[:3])} failed: {msg[-1] if msg else 'no output'}")
        out = proc.stdout.decode(errors="replace")
        return out[:-1] if out.endswith("\n") else out

    def ok(self, *args: str) -> bool:
        """True when `git args...` exits 0 (for yes/no questions such as `diff --quiet`)."""
        env = self.env
        return subprocess.run(["git", *args], cwd=self.root, env=env, capture_output=True).returncode == 0

    def write_blob(self, text: str) -> str:
        """Store a file's content as a blob; return its sha."""
        return self.run("hash-object", "-w", "--stdin", input=text)

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        """Create a commit object (no ref moves); return its sha."""
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        return self.run(*args, "-F", "-", input=message)

    def move_ref(self, ref: str, new: str, old: str | None) -> None:
        """Atomically point `ref` at `new` if it still holds `old` (None: must not exist yet)."""
        self.run("update-ref", ref, new, old if old is not None else "")

    def delete_ref(self, ref: str) -> None:
        """Delete a ref (no error when it is already gone)."""
        self.run("update-ref", "-d", ref, check=False)

    def add_note(self, sha: str, text: str) -> None:
        """Attach (or replace) the fnforge JSON note on a commit."""
        self.run("notes", "--ref", "fnforge", "add", "-f", "-F", "-", sha, input=text)
