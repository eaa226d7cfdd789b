"""FunctionRepo: a function set as a git repository the user owns.

This module is the store's reading side and its safety rails: opening and creating a
repository, reading the function set at any step, the write lock, crash recovery and the
clean-tree check. The writing porcelain (propose, judge, rollback) lives in `steps.py`
and is exposed here as methods, so callers hold one object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from fnforge.config import CONFIG_NAME, ConfigError, Settings, load_settings, render_template
from fnforge.function_repo import history
from fnforge.function_repo import steps as porcelain
from fnforge.function_repo.candidate import Candidate, StepResult
from fnforge.function_repo.errors import RepoError, RepoLocked
from fnforge.function_repo.history import StepRecord
from fnforge.function_repo.plumbing import Git
from fnforge.function_repo.review import waiting

if TYPE_CHECKING:
    import git

Ref = int | str | None
_CANDIDATE = re.compile(r"^refs/heads/fnforge/(?P<run>.+)/step-(?P<step>\d+)(?:-c\d+(?:\+\d+)*)?$")
_GITIGNORE = "__pycache__/\n*.pyc\n.venv/\n"


class FunctionRepo:
    """A fnforge function repository: `functions/`, `tests/`, `fnforge.toml`, and its history.

    Every accepted step is a `--no-ff` merge on the set's branch; rejected candidates stay
    under `refs/fnforge/rejected/`; JSON notes under `refs/notes/fnforge` hold the details.
    """

    def __init__(self, root: Path, git_dir: Path, settings: Settings):
        self.root = root
        self.settings = settings
        self.branch = settings.training.branch
        self.git = Git(root)
        self.git_dir = git_dir
        self._lock = FileLock(str(self.git_dir / "fnforge.lock"), timeout=0, thread_local=False)
        self._lock_depth = 0

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def init(cls, path: Path | str, task: str = "gsm8k", config_text: str | None = None) -> FunctionRepo:
        """Create a new function repository: git init, fnforge.toml, functions/, tests/, data/."""
        root = Path(path).resolve()
        if (root / ".git").exists():
            raise RepoError(
                f"{root}: already a git repository; `fnforge init` wants a new or empty directory"
            )
        if root.exists() and any(root.iterdir()):
            raise RepoError(f"{root}: directory is not empty; choose a new directory for the function set")
        text = config_text if config_text is not None else render_template(task)
        root.mkdir(parents=True, exist_ok=True)
        (root / CONFIG_NAME).write_text(text, encoding="utf-8")
        try:
            settings = load_settings(root / CONFIG_NAME)
        except ConfigError as e:
            (root / CONFIG_NAME).unlink()
            raise RepoError(str(e)) from None
        for sub in ("functions", "tests", "data"):
            (root / sub).mkdir(exist_ok=True)
            (root / sub / ".gitkeep").write_text("")
        (root / ".gitignore").write_text(_GITIGNORE)
        out = cls(root, root / ".git", settings)
        out.git.run("init", "-q", "-b", settings.training.branch)
        out.git.run("add", "--", CONFIG_NAME, ".gitignore", "functions", "tests", "data")
        out.git.run(
            "commit", "-q", "-m", f"Start a fnforge function set (task {settings.task.name})", identity=True
        )
        return out

    @classmethod
    def open(cls, path: Path | str) -> FunctionRepo:
        """Open an existing function repository; RepoError with a fix when it is not one."""
        root = Path(path).resolve()
        if not root.is_dir():
            raise RepoError(f"{root}: no such directory; create a function set with `fnforge init {path}`")
        if not (root / CONFIG_NAME).is_file() or not (root / ".git").exists():
            raise RepoError(
                f"{root}: not a fnforge repository (needs .git and {CONFIG_NAME}); "
                f"create one with `fnforge init DIR` or pass --repo DIR"
            )
        try:
            settings = load_settings(root / CONFIG_NAME)
        except ConfigError as e:
            raise RepoError(str(e)) from None
        git_dir = root / ".git"
        if git_dir.is_file():  # a linked worktree or submodule: ".git" names the real directory
            git_dir = (root / git_dir.read_text().split(":", 1)[1].strip()).resolve()
        out = cls(root, git_dir, settings)
        if not out._has_ref(f"refs/heads/{out.branch}"):
            raise RepoError(
                f"{root}: the function set's branch {out.branch!r} does not exist; "
                "fix [training] branch in fnforge.toml"
            )
        return out

    @cached_property
    def _repo(self) -> git.Repo:
        """GitPython's view, for reading blobs and trees (opened on first use: importing
        GitPython runs `git version`, which a fast `fnforge log` does not need)."""
        import git

        return git.Repo(self.root)

    def _has_ref(self, ref: str) -> bool:
        """Whether a ref exists, read from the ref files (no git process)."""
        if (self.git_dir / ref).is_file():
            return True
        packed = self.git_dir / "packed-refs"
        return packed.is_file() and any(
            line.rstrip().endswith(f" {ref}") for line in packed.read_text().splitlines()
        )

    def close(self) -> None:
        """Stop GitPython's helper processes."""
        if "_repo" in self.__dict__:
            self._repo.close()

    def __enter__(self) -> FunctionRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ------------------------------------------------------------------------

    def head(self) -> str:
        """The sha of the set's branch."""
        return self.git.run("rev-parse", f"refs/heads/{self.branch}")

    def resolve(self, ref: Ref = None) -> str:
        """A commit sha for a step number, a branch, a sha, or None (the branch head)."""
        if ref is None:
            return self.head()
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.resolve_step(int(ref))
        sha = self.git.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        if not sha:
            raise RepoError(f"{ref!r} is not a step number, branch or commit in {self.root}")
        return sha

    def resolve_step(self, n: int) -> str:
        """The commit of step n (0 is the set's first commit): merge, rollback or rejection record."""
        if n == 0:
            roots = self.git.run("rev-list", "--first-parent", "--max-parents=0", f"refs/heads/{self.branch}")
            return roots.splitlines()[-1]
        return self.step(n).commit

    def _files(self, ref: Ref, folder: str) -> dict[str, str]:
        commit = self._repo.commit(self.resolve(ref))
        try:
            tree = commit.tree / folder
        except KeyError:
            return {}
        return {
            blob.name: blob.data_stream.read().decode("utf-8", errors="replace")
            for blob in tree.blobs
            if blob.name.endswith(".py")
        }

    def functions(self, ref: Ref = None) -> dict[str, str]:
        """The function set at `ref`: {name: module source} from `functions/<name>.py`."""
        return {
            name[:-3]: src for name, src in sorted(self._files(ref, "functions").items())
            if not name.startswith(("_", "."))
        }  # fmt: skip

    def tests(self, ref: Ref = None) -> dict[str, str]:
        """The property tests at `ref`: {function name: source of tests/test_<name>.py}."""
        return {
            name[5:-3]: src for name, src in sorted(self._files(ref, "tests").items())
            if name.startswith("test_")
        }  # fmt: skip

    def steps(self, include_rejected: bool = False) -> list[StepRecord]:
        """Every decided step, oldest first, read with a single git call."""
        return history.read_steps(self.git, self.branch, include_rejected)

    def record_evaluation(self, ref: Ref, record: dict[str, Any]) -> str:
        """Keep an evaluation of the set at `ref` in a note outside the run's history; its commit."""
        from fnforge.function_repo.evaluations import record_evaluation

        sha = self.resolve(ref)
        record_evaluation(self.git, sha, record)
        return sha

    def evaluations(self) -> list[dict[str, Any]]:
        """Every evaluation kept by `record_evaluation`, oldest first, each with its commit."""
        from fnforge.function_repo.evaluations import read_evaluations

        return read_evaluations(self.git)

    def step(self, n: int) -> StepRecord:
        """One step; RepoError when no such step was ever decided."""
        for rec in self.steps(include_rejected=True):
            if rec.step == n:
                return rec
        raise RepoError(f"step {n} does not exist in {self.root}; `fnforge log --all` lists the steps")

    def diff(self, a: Ref, b: Ref) -> str:
        """The function set's diff (functions/ and tests/) between two steps or refs."""
        return self.git.run("diff", self.resolve(a), self.resolve(b), "--", "functions", "tests")

    def step_diff(self, n: int) -> str:
        """What step n changed, against the head it was made from (rejected steps too)."""
        rec = self.step(n)
        base = rec.note.get("base") or f"{rec.commit}^1"
        return self.git.run("diff", base, rec.commit, "--", "functions", "tests")

    # --- safety rails ---------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the repository's write lock (re-entrant); a second writer gets RepoLocked."""
        if self._lock_depth == 0:
            try:
                self._lock.acquire(timeout=0)
            except Timeout:
                raise RepoLocked(
                    f"{self.root} is being written by pid {self._lock_holder()}; "
                    "wait or remove .git/fnforge.lock if that process is gone"
                ) from None
            (self.git_dir / "fnforge.lock.pid").write_text(str(os.getpid()))
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0:
                self._lock.release()

    def _lock_holder(self) -> str:
        try:
            return (self.git_dir / "fnforge.lock.pid").read_text().strip() or "?"
        except OSError:
            return "?"

    def candidate_branches(self) -> list[tuple[str, int, str]]:
        """Candidate branches that exist now: (run, step, full ref name)."""
        out = self.git.run("for-each-ref", "--format=%(refname)", "refs/heads/fnforge/")
        found = []
        for ref in out.splitlines():
            m = _CANDIDATE.match(ref.strip())
            if m:
                found.append((m["run"], int(m["step"]), ref.strip()))
        return found

    def next_step(self) -> int:
        """The next step number: steps are global to the repository and continuous."""
        taken = [r.step for r in history.read_steps(self.git, self.branch, True, notes=False)]
        taken += [n for _, n, _ in self.candidate_branches()]
        return max(taken, default=0) + 1

    def checked_out(self) -> bool:
        """True when the set's branch is the work tree's HEAD (then merges update the files)."""
        try:
            head = (self.git_dir / "HEAD").read_text().strip()
        except OSError:
            return False
        return head == f"ref: refs/heads/{self.branch}"

    def recover(self) -> list[str]:
        """Clean up after a process that died mid-step; return what was done, in words.

        Candidate branches with no decision are deleted (their step number is then reused),
        except those awaiting a person's review (review.py); candidates already decided lose
        their leftover branch; a work tree left behind a merge that was recorded is brought
        up to date.
        """
        done: list[str] = []
        with self.lock():
            if (self.git_dir / "index.lock").exists():
                raise RepoError(
                    f"{self.git_dir / 'index.lock'} exists: a git command is running here or was killed; "
                    "if no git process is running, remove that file and retry"
                )
            decided = {r.step for r in history.read_steps(self.git, self.branch, True, notes=False)}
            held = {w.step for w in waiting(self)} - decided
            for _run, n, ref in self.candidate_branches():
                if n in held:
                    continue
                self.git.delete_ref(ref)
                name = ref.removeprefix("refs/heads/")
                if n in decided:
                    done.append(f"removed leftover branch {name} (step {n} was already decided)")
                else:
                    done.append(f"removed half-made candidate {name} (no decision); step {n} will be reused")
            for stale in (self.git_dir / "fnforge").glob("index-*"):
                stale.unlink(missing_ok=True)
            if self.checked_out() and not self.git.ok("diff-index", "--cached", "--quiet", "HEAD", "--"):
                head = self.head()
                parents = self.git.run("rev-list", "--parents", "-n", "1", head).split()[1:]
                if parents and self.git.run("write-tree") == self.git.run(
                    "rev-parse", f"{parents[0]}^{{tree}}"
                ):
                    self.git.run("read-tree", "-m", "-u", parents[0], head)
                    done.append(f"brought the work tree up to the branch head {head[:10]}")
        return done

    def ensure_clean(self) -> None:
        """RepoError when the user left changes in functions/ or tests/ (a merge would mix them)."""
        if not self.checked_out():
            return
        out = self.git.run("status", "--porcelain=v1", "--untracked-files=all", "--", "functions", "tests")
        paths = [line[3:] for line in out.splitlines() if line.strip()]
        if paths:
            shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
            raise RepoError(
                f"{self.root}: uncommitted changes in {shown}; commit them (git add/commit) "
                "or discard them (git checkout -- functions tests; git clean -n shows new files), then retry"
            )

    # --- writing (porcelain in steps.py) ----------------------------------------------------

    def propose(
        self, actions: Sequence[Any], run: str = "manual", *, step: int | None = None, suffix: str = ""
    ) -> Candidate:
        """Commit the actions on a fresh candidate branch; see steps.propose."""
        return porcelain.propose(self, actions, run, step=step, suffix=suffix)

    def keep_unchosen(self, candidate: Candidate, verdicts: Sequence[Any], note: dict[str, Any]) -> str:
        """Keep a candidate that lost its step's selection as a rejected ref; see selection.keep_unchosen."""
        from fnforge.function_repo.selection import keep_unchosen

        return keep_unchosen(self, candidate, list(verdicts), note)

    def judge(
        self, candidate: Candidate, gates: Sequence[Any], note_extra: dict[str, Any] | None = None
    ) -> StepResult:
        """Gate the candidate, then merge it or keep it as a rejected ref; see steps.judge."""
        return porcelain.judge(self, candidate, gates, note_extra)

    def record_rejection(
        self, run: str, gate: str, reason: str, note_extra: dict[str, Any] | None = None
    ) -> StepResult:
        """Record a numbered step rejected before any candidate existed; see steps.record_rejection."""
        return porcelain.record_rejection(self, run, gate, reason, note_extra)

    def run_step(
        self, actions: Sequence[Any], gates: Sequence[Any], run: str = "manual",
        note_extra: dict[str, Any] | None = None,
    ) -> StepResult:  # fmt: skip
        """Lock, recover, propose and judge: one whole step."""
        return porcelain.run_step(self, actions, gates, run, note_extra)

    def rollback(self, n: int, run: str = "manual") -> StepResult:
        """Undo accepted step n (`git revert -m 1`) as a new numbered step; see steps.rollback."""
        return porcelain.rollback(self, n, run)
