"""Raw rows of a large task file, one at a time: JSONL by byte offset, Parquet by row group.

A lazy task source (`task_sources.py`) needs two things of its file: one pass over every row
(to build its index: where each row is, its id, its question's hash, whether it is well formed)
and, later, the fields of a few rows by the positions the index kept. Each format answers both
in its own way; nothing else in the package knows the difference:

- `JsonlRows`: a row is a line; its position is the byte offset of the line, read back with
  `os.pread` (thread-safe, no shared file position), so a batch costs one read per task.
- `ParquetRows`: a row's position is its row number; pyarrow decodes one row group at a time
  (the last one stays decoded), so a read costs at most one row group. Write files with row
  groups of about 10,000 rows (`pyarrow.parquet.write_table(..., row_group_size=10_000)`).

A row that is not a JSON object is reported as a value (`BadRow`) naming its file and line,
never raised from the scan: the index counts it and the run decides what a bad share is.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnforge.evaluators.errors import EvaluatorError

_DECODER = json.JSONDecoder()  # what json.loads uses, without its per-call encoding detection


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row the scan could not read as a JSON object: its 0-based line and why."""

    line: int
    message: str


def jsonl_fields(path: Path, line: int, raw: bytes | str) -> dict[str, Any]:
    """The JSON object on 0-based `line` of a JSONL file, or EvaluatorError naming file and line."""
    try:
        fields = _DECODER.decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except UnicodeDecodeError:
        raise EvaluatorError(f"{path}:{line + 1}: not UTF-8 text; save the file as UTF-8") from None
    except json.JSONDecodeError as e:
        raise EvaluatorError(
            f"{path}:{line + 1}: not valid JSON ({e.msg}); each line must be one JSON object"
        ) from None
    if not isinstance(fields, dict):
        raise EvaluatorError(
            f"{path}:{line + 1}: expected a JSON object per line, got {type(fields).__name__}"
        )
    return fields


class JsonlRows:
    """The lines of a JSONL file: scanned once for the index, then read by byte offset."""

    format = "jsonl"

    def __init__(self, path: Path):
        self.path = Path(path)
        self._name = str(self.path)
        self._fd: int | None = None
        self._lock = threading.Lock()

    def where(self, line: int) -> str:
        """How an error names a row: `path:LINE`, 1-based as editors count."""
        return f"{self._name}:{line + 1}"

    def parts(self, k: int) -> list[tuple[int, int, int]]:
        """The file cut into about k parts at line ends: (first byte, end byte, first line)."""
        size = self.path.stat().st_size
        cuts, lines = [0], [0]
        with self.path.open("rb") as f:
            for i in range(1, k):
                f.seek(max(cuts[-1], size * i // k))
                f.readline()  # to the end of the line the cut fell in
                if f.tell() >= size or f.tell() <= cuts[-1]:
                    break
                cuts.append(f.tell())
            cuts.append(size)
            f.seek(0)
            for lo, hi in zip(cuts[:-2], cuts[1:-1], strict=True):  # line numbers at each cut
                lines.append(lines[-1] + _count_lines(f, hi - lo))
        return [(lo, hi, line) for lo, hi, line in zip(cuts[:-1], cuts[1:], lines, strict=True)]

    def scan(
        self, part: tuple[int, int, int] | None = None
    ) -> Iterator[tuple[int, int, int, dict[str, Any] | BadRow]]:
        """(byte offset, byte length, 0-based line, fields or BadRow) of every non-blank line
        (of one part: `parts`)."""
        offset, end, first = part or (0, None, 0)
        with self.path.open("rb") as f:
            f.seek(offset)
            for line, raw in enumerate(f, start=first):
                if end is not None and offset >= end:
                    break
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    yield start, len(raw), line, jsonl_fields(self.path, line, raw)
                except EvaluatorError as e:
                    yield start, len(raw), line, BadRow(line, str(e))

    def fields(self, rows: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
        """The fields of rows given as (offset, length, line), in that order."""
        fd = self._descriptor()
        out = []
        for start, length, line in rows:
            raw = os.pread(fd, length, start)
            if len(raw) != length:
                raise EvaluatorError(
                    f"{self.where(line)}: the file changed since it was indexed; start the run again"
                )
            out.append(jsonl_fields(self.path, line, raw))
        return out

    def _descriptor(self) -> int:
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY)
            return self._fd

    def close(self) -> None:
        """Close the file descriptor (reopened on the next read)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __del__(self) -> None:
        self.close()


class ParquetRows:
    """The rows of a Parquet file: scanned row group by row group, read back by row number."""

    format = "parquet"

    def __init__(self, path: Path):
        import pyarrow.parquet as pq  # only when a Parquet file is used: pyarrow is large

        self.path = Path(path)
        try:
            self._file = pq.ParquetFile(self.path)
        except Exception as e:  # noqa: BLE001 - pyarrow's errors vary; the message is what counts
            raise EvaluatorError(
                f"{self.path}: not a readable Parquet file ({e}); write it with pyarrow or pandas"
            ) from None
        meta = self._file.metadata
        self.group_sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        self.group_starts = [0]
        for size in self.group_sizes:
            self.group_starts.append(self.group_starts[-1] + size)
        self._cached: tuple[int, Any] | None = None  # (row group, its decoded table)
        self._lock = threading.Lock()

    def where(self, line: int) -> str:
        """How an error names a row: `path: row N`, 1-based."""
        return f"{self.path}: row {line + 1}"

    def parts(self, k: int) -> list[tuple[int, int]]:
        """The row groups cut into about k runs: (first group, end group)."""
        n = len(self.group_sizes)
        cuts = sorted({n * i // k for i in range(k)} | {n})
        return list(zip(cuts[:-1], cuts[1:], strict=True))

    def scan(
        self, part: tuple[int, int] | None = None
    ) -> Iterator[tuple[int, int, int, dict[str, Any] | BadRow]]:
        """(row number, 0, row number, fields) of every row (of one part: `parts`), a row group at a time."""
        first, end = part or (0, len(self.group_sizes))
        for g in range(first, end):
            start = self.group_starts[g]
            for k, fields in enumerate(self._file.read_row_group(g).to_pylist()):
                yield start + k, 0, start + k, fields

    def fields(self, rows: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
        """The fields of rows given as (row number, _, _), in that order."""
        import bisect

        out: list[dict[str, Any]] = [{} for _ in rows]
        # one decode per row group: rows taken in file order, handed back in the order asked
        for i in sorted(range(len(rows)), key=lambda i: rows[i][0]):
            row = rows[i][0]
            g = bisect.bisect_right(self.group_starts, row) - 1
            out[i] = self._group(g).slice(row - self.group_starts[g], 1).to_pylist()[0]
        return out

    def _group(self, g: int) -> Any:
        with self._lock:
            if self._cached is None or self._cached[0] != g:
                # one thread: pyarrow's reader threads each keep buffers, a third of the driver's
                # memory for a batch of eight tasks, for no gain on one row group
                self._cached = None
                self._cached = (g, self._file.read_row_group(g, use_threads=False))
            return self._cached[1]

    def close(self) -> None:
        """Drop the decoded row group."""
        self._cached = None


def _count_lines(f: Any, length: int, block: int = 1 << 24) -> int:
    """Newlines in the next `length` bytes of an open file, read a block at a time."""
    count = 0
    while length > 0:
        data = f.read(min(block, length))
        if not data:
            break
        count += data.count(b"\n")
        length -= len(data)
    return count


def rows_of(path: Path) -> JsonlRows | ParquetRows:
    """The reader for a file, chosen by its suffix (`.parquet`, else JSONL)."""
    return ParquetRows(path) if Path(path).suffix == ".parquet" else JsonlRows(path)
