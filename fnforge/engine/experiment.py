"""An experiment opened for work: settings, tasks, evaluator, model client, sandbox and scorer.

Training a repository and scoring one of its steps need the same parts wired the same way:
the repository's `fnforge.toml`, its evaluator and task files, an LLM client whose cache
lives in the repository's `.git`, a sandbox pool, and a scorer on the engine's event loop.
`Experiment.open` builds them once and closes them in the right order (the pool's
containers removed, the loop stopped) whatever happens.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from fnforge.config import Settings
from fnforge.engine.background import BackgroundLoop
from fnforge.engine.evaluation import Evaluation, Scorer
from fnforge.engine.executors.base import Executor
from fnforge.engine.llm import ChatModel, LLMClient, cache_dir


class ExperimentError(ValueError):
    """The experiment cannot start (missing data file, unknown task...); the message says the fix."""


def load_tasks(evaluator: Any, root: Path, relative: str, what: str) -> list[Any]:
    """The tasks of one split, with a clear error when the file is missing or empty."""
    path = Path(relative) if Path(relative).is_absolute() else Path(root) / relative
    if not path.exists():
        raise ExperimentError(f"[data] {what} = {relative!r}: {path} not found; put the {what} tasks there")
    tasks = evaluator.load(path)
    if not tasks:
        raise ExperimentError(f"[data] {what} = {relative!r}: no tasks in {path}")
    return tasks


def choose_executor(settings: Settings, *, llm: ChatModel | None, pool: Any, evaluator: Any) -> Executor:
    """The executor `[executor] kind` names: rollouts on this machine, or on a Ray cluster.

    The one place the choice is made. Ray runs its own sandbox pools on its nodes (not `pool`)
    and reaches the model through the driver's client; a missing Ray install or an unreachable
    cluster is an `ExperimentError` saying what to do.
    """
    if settings.executor.kind != "ray":
        from fnforge.engine.executors.local import LocalExecutor

        return LocalExecutor(settings, llm=llm, pool=pool, evaluator=evaluator)
    try:
        from fnforge.engine.executors.ray.driver import ClusterUnavailable, RayExecutor
    except ImportError as e:
        raise ExperimentError(
            f'[executor] kind = "ray" needs Ray ({e.name} is not installed); '
            "pip install 'fnforge[ray]' or set kind = \"local\""
        ) from None
    try:
        return RayExecutor(settings, llm=llm, evaluator=evaluator)
    except ClusterUnavailable as e:
        raise ExperimentError(str(e)) from None


class Experiment:
    """The parts a training run or an evaluation needs, opened from a function repository."""

    def __init__(
        self,
        repo: Any,
        *,
        offline: bool = False,
        pool: Any = None,
        llm_backoff_s: float = 0.5,
        splits: tuple[str, ...] = ("train", "val"),
        settings: Settings | None = None,
    ):
        self.repo = repo
        self.root = Path(repo.root)
        # another task, data file, model or agent for one evaluation (`fnforge eval --task ...`);
        # the repository's fnforge.toml is never changed
        self.settings: Settings = settings or repo.settings
        self.offline = offline
        self._given_pool = pool
        self._llm_backoff_s = llm_backoff_s
        self._splits = splits
        self._stack = ExitStack()
        self.pool: Any = None
        self.llm: LLMClient | None = None
        self.background: BackgroundLoop | None = None
        self.scorer: Scorer | None = None
        self.executor: Executor | None = None  # local, or Ray when [executor] kind = "ray"
        self.evaluator: Any = None
        self.train_tasks: list[Any] = []
        self.val_tasks: list[Any] = []
        # the sealed test split: loaded only when asked for (`fnforge eval --split test`)
        self.test_tasks: list[Any] = []

    def __enter__(self) -> Experiment:
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        return self

    def _open(self) -> None:
        from fnforge.evaluators import get_evaluator

        s = self.settings
        self.evaluator = get_evaluator(s.task.name, self.root)
        if "train" in self._splits:
            self.train_tasks = load_tasks(self.evaluator, self.root, s.data.train, "train")
        if "val" in self._splits:
            self.val_tasks = load_tasks(self.evaluator, self.root, s.data.val, "val")
        if "test" in self._splits:
            self.test_tasks = self.sealed_test_tasks()
        threads = max(s.training.concurrency, s.sandbox.pool) + 4
        self.background = self._stack.enter_context(BackgroundLoop(threads=threads))
        if s.agent.mode != "direct" or s.llm.scripted_edits == "":
            self.llm = LLMClient(
                s.llm, cache_dir(self.root), offline=self.offline, backoff_s=self._llm_backoff_s
            )
            self._stack.callback(self._close_llm)
        if self._given_pool is not None:
            self.pool = self._given_pool
        else:
            from fnforge.sandbox import open_pool

            self.pool = self._stack.enter_context(open_pool(s.sandbox, s.sandbox.pool))
        self.executor = choose_executor(s, llm=self.llm, pool=self.pool, evaluator=self.evaluator)
        self._stack.callback(self.executor.close)
        self.scorer = Scorer(
            self.executor, evaluator=self.evaluator, background=self.background, repeats=s.training.repeats
        )

    def _close_llm(self) -> None:
        if self.llm is not None and self.background is not None and not self.background.loop.is_closed():
            try:
                self.background.run(self.llm.close())
            except Exception:  # noqa: BLE001 - closing connections is best effort
                pass

    def sealed_test_tasks(self) -> list[Any]:
        """The test split's tasks (`[data] test`); an error when the settings name none."""
        if not self.settings.data.test:
            raise ExperimentError('no test split: set [data] test = "data/test.jsonl" in fnforge.toml')
        return load_tasks(self.evaluator, self.root, self.settings.data.test, "test")

    def tasks(self, split: str) -> list[Any]:
        """The tasks of `train`, `val` or (when opened with it) the sealed `test`."""
        if split not in ("train", "val", "test"):
            raise ExperimentError(f"unknown split {split!r}; use train, val or test")
        return {"train": self.train_tasks, "val": self.val_tasks, "test": self.test_tasks}[split]

    def score(self, functions: dict[str, str], split: str) -> Evaluation:
        """Score a function set on a whole split."""
        assert self.scorer is not None
        return self.scorer.score(functions, self.tasks(split), split=split)

    def close(self) -> None:
        """Close the LLM connections, the event loop and the sandbox pool."""
        self._stack.close()

    def __exit__(self, *exc: object) -> None:
        self.close()
