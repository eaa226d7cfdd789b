"""Task splits read as they are needed: a `Sequence[Task]` over an index, never a list of rows.

A split of a million tasks must not be read whole when a run starts. `open_tasks` gives a
sequence (len, index, slice) whose tasks are read from the file when asked for:

- a JSONL file (the dataset's own format or question/answer) or a Parquet file: through its
  index (`task_index.py`), built in one pass and cached, so a second start reads no row;
- a `.json` file (a list, or an object keyed by id): read whole, as it always was (keep large
  data in JSONL or Parquet);
- a folder of such files: one sequence over them in path order, ids prefixed with the file's
  path below the folder as `loading.py` does.

Every sequence also answers, without reading tasks, what the engine needs of a whole split:
`ids()`, `key_hashes()` (for the overlap check), `id_order()` (for the epoch shuffle) and
`reports()` (rows, format and bad rows of each file). A bad row is left out of the sequence and
reported with its line; the caller decides what share of bad rows it accepts (`check_bad_share`).
"""

from __future__ import annotations

import operator
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fnforge.evaluators.index_worker import WORKER_ROWS, build_elsewhere, estimated_rows
from fnforge.evaluators.loading import TASK_FILE_SUFFIXES, Record, own_id
from fnforge.evaluators.row_readers import rows_of
from fnforge.evaluators.task import EvaluatorError, Task
from fnforge.evaluators.task_index import IndexCache, TaskIndex, build_index, file_key
from fnforge.evaluators.task_keys import key_hash, normalised_question

READ_CHUNK = 1000  # tasks read at a time when a whole sequence is iterated


@dataclass
class SourceReport:
    """One data file as read: its rows, format and bad rows (each `path:line: why`)."""

    path: str
    format: str
    rows: int  # good rows: the tasks
    total: int  # good and bad
    bad_count: int = 0
    bad: list[str] = field(default_factory=list)  # the first bad rows' messages
    # how this open built the index ({} when it was read from the cache): by whom, seconds, peak MB
    build: dict[str, Any] = field(default_factory=dict)

    @property
    def built(self) -> bool:
        """Whether the index was built on this open (not read from the cache)."""
        return bool(self.build)

    @property
    def bad_share(self) -> float:
        """Bad rows over all rows read."""
        return self.bad_count / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json` and notes."""
        return {
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "bad_count": self.bad_count,
            "bad": self.bad[:20],
            "index": self.build or "cached",
        }


class TaskSequence(Sequence[Task], ABC):
    """Tasks by position, read when asked for; slices and `take` give lazy views."""

    own_ids: bool = True  # False when the ids are only line numbers (compared by question alone)

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def read_many(self, positions: Sequence[int]) -> list[Task]:
        """The tasks at these positions, in that order (a batch: one read each)."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """Every task's id as UTF-8 bytes (numpy "S"), in position order, without reading tasks."""

    @abstractmethod
    def key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """(id hashes, normalised-question hashes), 64-bit, in position order."""

    @abstractmethod
    def reports(self) -> list[SourceReport]:
        """Each file's rows, format and bad rows."""

    def sorted_key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """The id and question hashes each sorted (membership by binary search)."""
        ids, texts = self.key_hashes()
        return np.sort(ids), np.sort(texts)

    def id_order(self) -> np.ndarray:
        """Positions sorted by id (the order every epoch's shuffle starts from)."""
        return np.argsort(self.ids(), kind="stable")

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        n = len(self)
        j = operator.index(i)
        j = j + n if j < 0 else j
        if not 0 <= j < n:
            raise IndexError(f"task {i} of a split of {n}")
        return self.read_many([j])[0]

    def __iter__(self) -> Iterator[Task]:
        n = len(self)
        for start in range(0, n, READ_CHUNK):
            yield from self.read_many(range(start, min(n, start + READ_CHUNK)))

    def take(self, positions: Sequence[int] | np.ndarray) -> TaskView:
        """A lazy view of these positions, in this order."""
        return TaskView(self, np.asarray(positions, dtype=np.int64))

    def __reduce__(self) -> Any:  # a whole split never travels (Ray chunks carry their own tasks)
        raise TypeError("a task sequence is not pickled: send list(tasks[i:j]) instead")


class TaskView(TaskSequence):
    """Some positions of a sequence, in a given order (a sample, a slice, a batch)."""

    def __init__(self, base: TaskSequence, positions: np.ndarray):
        self.base = base
        self.positions = positions
        self.own_ids = base.own_ids

    def __len__(self) -> int:
        return len(self.positions)

    def read_many(self, positions: Sequence[int]) -> list[Task]:
        return self.base.read_many([int(p) for p in self.positions[np.asarray(positions, dtype=np.int64)]])

    def ids(self) -> np.ndarray:
        return self.base.ids()[self.positions]

    def key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        ids, texts = self.base.key_hashes()
        return ids[self.positions], texts[self.positions]

    def reports(self) -> list[SourceReport]:
        return self.base.reports()

    def take(self, positions: Sequence[int] | np.ndarray) -> TaskView:
        return TaskView(self.base, self.positions[np.asarray(positions, dtype=np.int64)])


class FileTasks(TaskSequence):
    """The good rows of one JSONL or Parquet file, through its index."""

    def __init__(self, path: Path, evaluator: Any, index: TaskIndex, reader: Any, build: dict[str, Any]):
        self.path, self.evaluator, self.index, self.reader = path, evaluator, index, reader
        self.own_ids = index.own_ids
        self.build = build  # how the index was built on this open ({} when read from the cache)

    @property
    def built(self) -> bool:
        """Whether this open built the index (rather than reading it from the cache)."""
        return bool(self.build)

    def __len__(self) -> int:
        return len(self.index)

    def read_many(self, positions: Sequence[int]) -> list[Task]:
        ix = self.index
        rows = [(int(ix.rows[p]), int(ix.lengths[p]), int(ix.lines[p])) for p in positions]
        tasks = []
        for (_, _, line), fields in zip(rows, self.reader.fields(rows), strict=True):
            record = Record(own_id(fields) or str(line), fields, self.reader.where(line))
            tasks.append(self.evaluator.task(record))
        return tasks

    def ids(self) -> np.ndarray:
        return self.index.ids

    def key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.index.id_hash, self.index.text_hash

    def id_order(self) -> np.ndarray:
        return self.index.id_order

    def sorted_key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.index.id_sorted, self.index.text_sorted

    def reports(self) -> list[SourceReport]:
        ix = self.index
        bad = [message for _, message in ix.bad]
        return [
            SourceReport(str(self.path), ix.format, len(ix), ix.total, ix.bad_count, bad, dict(self.build))
        ]


class ListTasks(TaskSequence):
    """Tasks already in memory: a `.json` file read whole, or a list handed in (tests, tools)."""

    def __init__(self, tasks: Sequence[Task], path: str = "", fmt: str = "json"):
        self.tasks = list(tasks)
        self.path, self.format = path, fmt
        self.own_ids = [str(t.id) for t in self.tasks] != [str(i) for i in range(len(self.tasks))]

    def __len__(self) -> int:
        return len(self.tasks)

    def read_many(self, positions: Sequence[int]) -> list[Task]:
        return [self.tasks[p] for p in positions]

    def ids(self) -> np.ndarray:
        return np.array([str(t.id).encode("utf-8") for t in self.tasks] or [b""], dtype="S")[: len(self)]

    def key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array([key_hash(str(t.id)) for t in self.tasks], dtype=np.uint64)
        texts = np.array([key_hash(normalised_question(t)) for t in self.tasks], dtype=np.uint64)
        return ids, texts

    def reports(self) -> list[SourceReport]:
        return [SourceReport(self.path, self.format, len(self), len(self))]


class FolderTasks(TaskSequence):
    """The files of a folder, in path order, as one sequence; ids name the file they come from."""

    def __init__(self, folder: Path, parts: list[tuple[str, str, TaskSequence]]):
        self.folder = folder
        self.parts = parts  # (path below the folder without suffix, file stem, its tasks)
        self.starts = np.cumsum([0] + [len(p[2]) for p in parts])
        self._ids: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.starts[-1])

    def read_many(self, positions: Sequence[int]) -> list[Task]:
        out: list[Task] = []
        for p in positions:
            k = int(np.searchsorted(self.starts, p, side="right")) - 1
            name, stem, tasks = self.parts[k]
            task = tasks.read_many([int(p - self.starts[k])])[0]
            tid = name if str(task.id) == stem else f"{name}:{task.id}"
            out.append(task.model_copy(update={"id": tid}))
        return out

    def ids(self) -> np.ndarray:
        if self._ids is None:
            pieces = []
            for name, stem, tasks in self.parts:
                own = tasks.ids()
                prefixed = np.char.add(f"{name}:".encode(), own) if len(own) else own
                pieces.append(np.where(own == stem.encode(), name.encode(), prefixed))
            self._ids = np.concatenate(pieces) if pieces else np.array([], dtype="S1")
        return self._ids

    def key_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        ids = np.fromiter((key_hash(i.decode("utf-8")) for i in self.ids()), dtype=np.uint64, count=len(self))
        texts = [tasks.key_hashes()[1] for _, _, tasks in self.parts]
        return ids, np.concatenate(texts) if texts else np.array([], dtype=np.uint64)

    def reports(self) -> list[SourceReport]:
        return [r for _, _, tasks in self.parts for r in tasks.reports()]


def open_tasks(evaluator: Any, path: Path, cache: IndexCache | None = None) -> TaskSequence:
    """The tasks of a data file or folder, read lazily; EvaluatorError when it cannot be read at all.

    Bad rows do not raise here: they are left out and listed in `reports()`.
    """
    path = Path(path)
    if path.is_dir():
        return _open_folder(evaluator, path, cache)
    if not path.is_file():
        raise EvaluatorError(f"{path}: data file not found; pass an existing .jsonl, .parquet or .json file")
    if path.suffix == ".json":
        return ListTasks(evaluator.load(path), str(path), "json")
    cache = cache or IndexCache(None)
    reader = rows_of(path)
    index = cache.load(path, evaluator.name)
    build: dict[str, Any] = {}
    if index is None and estimated_rows(path) > WORKER_ROWS:
        build = build_elsewhere(evaluator, path, cache) or {}
        index = cache.load(path, evaluator.name) if build else None
        build["by"] = "worker"
    if index is None:
        t0 = time.perf_counter()
        key = file_key(path)  # taken before the pass: a file changed during it is indexed again
        try:
            index = build_index(reader, evaluator.task)
        except OSError as e:
            raise EvaluatorError(f"{path}: cannot read the data file ({e})") from None
        cache.save(path, evaluator.name, index, key)
        build = {"by": "this process", "seconds": round(time.perf_counter() - t0, 3)}
    return FileTasks(path, evaluator, index, reader, build)


def _open_folder(evaluator: Any, folder: Path, cache: IndexCache | None) -> FolderTasks:
    files = sorted(p for p in folder.rglob("*") if p.suffix in TASK_FILE_SUFFIXES and p.is_file())
    if not files:
        raise EvaluatorError(f"{folder}: no .json, .jsonl or .parquet task files in this folder")
    parts = [
        (f.relative_to(folder).with_suffix("").as_posix(), f.stem, open_tasks(evaluator, f, cache))
        for f in files
    ]
    tasks = FolderTasks(folder, parts)
    ids = np.sort(tasks.ids())
    repeated = ids[1:][ids[1:] == ids[:-1]]
    if len(repeated):
        raise EvaluatorError(
            f"{folder}: task id {repeated[0].decode('utf-8', 'replace')!r} comes from two files; "
            "ids must be unique across the folder"
        )
    return tasks


def check_bad_share(tasks: TaskSequence, max_share: float, what: str) -> list[str]:
    """Raise EvaluatorError when a file's bad rows are more than `max_share` of its rows.

    Returns one warning line per file that has bad rows within the share (each naming the
    first bad line), for the caller to show.
    """
    warnings = []
    for r in tasks.reports():
        if not r.bad_count:
            continue
        first = r.bad[0] if r.bad else ""
        if r.bad_share > max_share or r.rows == 0:
            raise EvaluatorError(
                f"{what}: {r.bad_count} of {r.total} rows of {r.path} are bad (more than "
                f"[data] max_bad_share = {max_share}); the first: {first}; fix the rows, or raise the share"
            )
        warnings.append(
            f"{what}: {r.bad_count} of {r.total} rows of {r.path} skipped as bad; the first: {first}"
        )
    return warnings
