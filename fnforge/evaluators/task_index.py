"""The index of a task file: where each task is, its id and question hashes, and its bad rows.

Built in one pass over the file (`build_index`): every row is read and turned into a task the
way the evaluator reads it, so a bad row is found here, with its line, once; what is kept is
compact (numpy arrays, a few bytes a task), never the rows. Saved beside the repository's other
caches (`IndexCache`, under `.git/fnforge/`) and keyed by the file's size, modification time and
a hash of its head, so the next start reads the arrays back instead of the file, and a changed
file is indexed again.

Per good row, in file order: `rows` (JSONL byte offset or Parquet row number), `lengths` (JSONL
byte length), `lines` (0-based line or row number, for messages and line-number ids), `ids`,
`id_hash` and `text_hash` (64-bit hashes of the id and of the normalised question, for the
overlap check, also kept sorted), and `id_order` (the rows sorted by id, the base of every
epoch's shuffle; 32-bit).
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import blake2b
from pathlib import Path
from typing import Any

import numpy as np

from fnforge.evaluators.errors import EvaluatorError
from fnforge.evaluators.loading import Record, own_id
from fnforge.evaluators.row_readers import BadRow, JsonlRows, ParquetRows
from fnforge.evaluators.task_keys import key_hash, normalised_question

INDEX_VERSION = 2
HEAD_BYTES = 1 << 16
BAD_ROWS_KEPT = 1000  # bad rows listed by line; beyond this only counted
ARRAYS = ("rows", "lengths", "lines", "ids", "id_hash", "text_hash", "id_order", "id_sorted", "text_sorted")


@dataclass
class TaskIndex:
    """A task file's index: compact arrays over its good rows, and its bad rows by line."""

    format: str
    rows: np.ndarray
    lengths: np.ndarray
    lines: np.ndarray
    ids: np.ndarray  # bytes (numpy "S"), UTF-8
    id_hash: np.ndarray
    text_hash: np.ndarray
    id_order: np.ndarray
    id_sorted: np.ndarray  # id_hash sorted: membership by binary search, no copy at the check
    text_sorted: np.ndarray
    own_ids: bool  # False when every id is a line number (the file has no id field)
    total: int  # rows read, good and bad
    bad: list[tuple[int, str]] = field(default_factory=list)  # (0-based line, message), the first ones
    bad_count: int = 0

    def __len__(self) -> int:
        return len(self.rows)

    def meta(self) -> dict[str, Any]:
        """What is saved beside the arrays."""
        return {
            "format": self.format,
            "own_ids": self.own_ids,
            "total": self.total,
            "bad": self.bad,
            "bad_count": self.bad_count,
        }


class _Builder:
    """Collects a pass over the rows in growable compact arrays (no per-task Python objects)."""

    def __init__(self) -> None:
        # JSONL offsets need 64 bits; a line's length and number fit in 32
        self.rows, self.lengths, self.lines = array.array("q"), array.array("i"), array.array("i")
        self.id_hash, self.text_hash = array.array("Q"), array.array("Q")
        self.id_blob, self.id_ends = bytearray(), array.array("q")
        self.bad: list[tuple[int, str]] = []
        self.bad_count = 0
        self.own_ids = False
        self.total = 0

    def add(self, row: int, length: int, line: int, tid: str, question: str) -> None:
        self.rows.append(row)
        self.lengths.append(length)
        self.lines.append(line)
        encoded = tid.encode("utf-8")
        self.id_blob += encoded
        self.id_ends.append(len(self.id_blob))
        self.id_hash.append(int.from_bytes(blake2b(encoded, digest_size=8).digest(), "little"))  # = key_hash
        self.text_hash.append(key_hash(question))

    def merge(self, later: _Builder) -> None:
        """Append the builder of the next part of the same file."""
        for name in ("rows", "lengths", "lines", "id_hash", "text_hash"):
            getattr(self, name).extend(getattr(later, name))
        shift = len(self.id_blob)
        self.id_ends.extend(end + shift for end in later.id_ends)
        self.id_blob += later.id_blob
        self.bad += later.bad[: max(0, BAD_ROWS_KEPT - len(self.bad))]
        self.bad_count += later.bad_count
        self.own_ids = self.own_ids or later.own_ids
        self.total += later.total

    def reject(self, line: int, message: str) -> None:
        self.bad_count += 1
        if len(self.bad) < BAD_ROWS_KEPT:
            self.bad.append((line, message))

    def ids(self) -> np.ndarray:
        ends = np.frombuffer(self.id_ends, dtype=np.int64)
        width = int(np.diff(ends, prepend=0).max()) if len(ends) else 1
        ids = np.zeros(len(ends), dtype=f"S{max(1, width)}")
        blob, start = self.id_blob, 0
        for i, end in enumerate(self.id_ends):  # one id at a time: no list of a million objects
            ids[i] = bytes(blob[start:end])
            start = end
        return ids


def build_index(reader: JsonlRows | ParquetRows, to_task: Callable[[Record], Any]) -> TaskIndex:
    """One pass over a file: each row made a task by `to_task`; bad rows kept as values by line.

    A row is bad when it is not a JSON object, when the evaluator cannot make a task of it
    (missing field, unreadable reference), or when its id repeats an earlier row's id.
    """
    return finish_index(reader, [scan_part(reader, to_task)])


def scan_part(
    reader: JsonlRows | ParquetRows, to_task: Callable[[Record], Any], part: Any = None
) -> _Builder:
    """The pass over one part of a file (`reader.parts`; None: all of it), in compact arrays."""
    b = _Builder()
    where, add = reader.where, b.add  # bound once: this loop runs a million times
    for row, length, line, fields in reader.scan(part):
        b.total += 1
        if isinstance(fields, BadRow):
            b.reject(fields.line, fields.message)
            continue
        own = own_id(fields)
        tid = own or str(line)
        try:
            task = to_task(Record(tid, fields, where(line)))
        except Exception as e:  # noqa: BLE001 - a row the evaluator refuses is a bad row, never a crash
            b.reject(line, str(e) if isinstance(e, EvaluatorError) else f"{where(line)}: {e!r}")
            continue
        if own is not None:
            b.own_ids = True
        add(row, length, line, tid, normalised_question(task))
    return b


def finish_index(reader: JsonlRows | ParquetRows, parts: list[_Builder]) -> TaskIndex:
    """The index from the passes over a file's parts, in file order."""
    whole = parts[0]
    for later in parts[1:]:
        whole.merge(later)
    return _finish(whole, reader)


def _finish(b: _Builder, reader: JsonlRows | ParquetRows) -> TaskIndex:
    """Arrays from the builder; rows whose id repeats an earlier row's become bad rows.

    The arrays are views of the builder's buffers unless rows are dropped: a first pass over a
    million rows holds each array once.
    """
    ids = b.ids()
    b.id_blob = bytearray()
    order = np.argsort(ids, kind="stable").astype(np.int32 if len(ids) < 2**31 else np.int64)
    lines = np.frombuffer(b.lines, dtype=np.int32)
    ranked = ids[order]
    repeats = np.flatnonzero(ranked[1:] == ranked[:-1]) + 1 if len(ids) > 1 else np.array([], dtype=np.int64)
    unit = "row" if reader.format == "parquet" else "line"
    for k in repeats:  # few: each names the first row with that id
        line = int(lines[order[k]])
        first_line = int(lines[_first_of_run(order, ranked, k)])
        b.reject(
            line,
            f"{reader.where(line)}: task id {ranked[k].decode('utf-8', 'replace')!r} already used at "
            f"{unit} {first_line + 1}; ids must be unique",
        )
    del ranked
    arrays = {
        "rows": np.frombuffer(b.rows, dtype=np.int64),
        "lengths": np.frombuffer(b.lengths, dtype=np.int32),
        "lines": lines,
        "ids": ids,
        "id_hash": np.frombuffer(b.id_hash, dtype=np.uint64),
        "text_hash": np.frombuffer(b.text_hash, dtype=np.uint64),
    }
    if len(repeats):
        keep = np.ones(len(ids), dtype=bool)
        keep[order[repeats]] = False
        new_position = np.cumsum(keep) - 1
        order = new_position[order[keep[order]]].astype(order.dtype)
        arrays = {name: a[keep] for name, a in arrays.items()}
    b.bad.sort()
    return TaskIndex(
        format=reader.format,
        **arrays,
        id_order=order,
        id_sorted=np.sort(arrays["id_hash"]),
        text_sorted=np.sort(arrays["text_hash"]),
        own_ids=b.own_ids,
        total=b.total,
        bad=b.bad,
        bad_count=b.bad_count,
    )


def _first_of_run(order: np.ndarray, ranked: np.ndarray, k: int) -> int:
    """The position (in file order) of the first row with the id at rank k."""
    while k > 0 and ranked[k - 1] == ranked[k]:
        k -= 1
    return int(order[k])


def file_key(path: Path) -> dict[str, Any]:
    """What says a file is unchanged: its size, modification time and a hash of its first 64 KiB."""
    st = path.stat()
    with path.open("rb") as f:
        head = hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "head": head}


class IndexCache:
    """Indexes saved as numpy arrays in a folder (a repository's `.git/fnforge/data-index`).

    One sub-folder per (file, evaluator): the evaluator decides what a task is and so which
    rows are bad. Arrays are memory-mapped when read back: a start touches only what it uses.
    """

    def __init__(self, folder: Path | None):
        self.folder = Path(folder) if folder is not None else None

    def _slot(self, path: Path, evaluator: str) -> Path:
        assert self.folder is not None
        name = hashlib.sha256(f"{path.resolve()}\0{evaluator}\0{INDEX_VERSION}".encode()).hexdigest()[:24]
        return self.folder / name

    def load(self, path: Path, evaluator: str) -> TaskIndex | None:
        """The saved index of an unchanged file, or None (no cache, never built, or the file changed)."""
        if self.folder is None:
            return None
        slot = self._slot(path, evaluator)
        try:
            meta = json.loads((slot / "meta.json").read_text(encoding="utf-8"))
            if meta.get("key") != file_key(path) or meta.get("version") != INDEX_VERSION:
                return None
            arrays = {name: np.load(slot / f"{name}.npy", mmap_mode="r") for name in ARRAYS}
        except (OSError, ValueError):
            return None
        bad = [(int(line), str(msg)) for line, msg in meta["bad"]]
        return TaskIndex(
            format=meta["format"],
            own_ids=bool(meta["own_ids"]),
            total=int(meta["total"]),
            bad=bad,
            bad_count=int(meta["bad_count"]),
            **arrays,
        )

    def save(self, path: Path, evaluator: str, index: TaskIndex, key: dict[str, Any]) -> None:
        """Keep an index built from the file as it was when `key` was taken (best effort)."""
        if self.folder is None:
            return
        slot = self._slot(path, evaluator)
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=".building-"))
            for name in ARRAYS:
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(index, name)))
            meta = {**index.meta(), "key": key, "version": INDEX_VERSION, "file": str(path)}
            (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            shutil.rmtree(slot, ignore_errors=True)
            os.replace(tmp, slot)
        except OSError:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)  # a read-only .git: the index is rebuilt next time
