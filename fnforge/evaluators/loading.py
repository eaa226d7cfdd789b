"""Reading task records from the files datasets come in: JSONL, Parquet, a JSON list, a JSON object keyed by id.

Every evaluator reads records the same way, so ids mean the same thing everywhere: a
record's own `id`, `idx`, `pid` or `unique_id` where it has one, the key for a JSON object
keyed by id (TabMWP), else the 0-based line number (JSONL), row number (Parquet) or position (JSON list).
This module reads a file whole; training reads its splits lazily through `task_sources.py`,
with the same ids and the same messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from fnforge.evaluators.errors import EvaluatorError
from fnforge.evaluators.row_readers import jsonl_fields

ID_FIELDS = ("id", "idx", "pid", "unique_id")
TASK_FILE_SUFFIXES = (".json", ".jsonl", ".parquet")


class Record(NamedTuple):
    """One raw record of a data file, with its id and where it was (for error messages).

    A named tuple: an index pass makes one per row, a million at a first start.
    """

    id: str
    fields: dict[str, Any]
    where: str


def read_records(path: Path) -> list[Record]:
    """All records of a data file, ids assigned; bad input raises EvaluatorError naming the line."""
    path = Path(path)
    if path.is_dir():
        return _from_directory(path)
    if path.suffix == ".parquet":
        return _from_rows(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvaluatorError(f"{path}: data file not found; pass an existing .jsonl or .json file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise EvaluatorError(
            f"{path}: cannot read the data file ({e}); expected UTF-8 JSON or JSONL"
        ) from None
    if path.suffix == ".json":
        try:
            return _from_json(path, json.loads(text))
        except json.JSONDecodeError as e:
            raise EvaluatorError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
    return _from_jsonl(path, text)


def _from_directory(path: Path) -> list[Record]:
    """Every `.json`/`.jsonl` file below a directory (the competition MATH layout: one problem
    per file, `algebra/1234.json`); ids are the file's path below the directory."""
    records: list[Record] = []
    seen: dict[str, str] = {}
    for file in sorted(p for p in path.rglob("*") if p.suffix in TASK_FILE_SUFFIXES and p.is_file()):
        name = file.relative_to(path).with_suffix("").as_posix()
        for record in read_records(file):
            rid = name if record.id == file.stem else f"{name}:{record.id}"
            _check_unique(path, rid, record.where, seen)
            records.append(Record(rid, record.fields, record.where))
    if not records:
        raise EvaluatorError(f"{path}: no .json, .jsonl or .parquet task files in this directory")
    return records


def own_id(fields: dict[str, Any]) -> str | None:
    for key in ID_FIELDS:
        if fields.get(key) is not None:
            return str(fields[key])
    return None


def _from_jsonl(path: Path, text: str) -> list[Record]:
    records, seen = [], {}
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        fields = jsonl_fields(path, number, line)
        rid = own_id(fields) or str(number)
        _check_unique(path, rid, f"line {number + 1}", seen)
        records.append(Record(rid, fields, f"{path}:{number + 1}"))
    return records


def _from_rows(path: Path) -> list[Record]:
    """Every row of a Parquet file (ids as for JSONL: a row's own id, else its 0-based number)."""
    from fnforge.evaluators.row_readers import rows_of

    records, seen = [], {}
    for _, _, number, fields in rows_of(path).scan():
        rid = own_id(fields) or str(number)  # a Parquet row is always an object
        _check_unique(path, rid, f"row {number + 1}", seen)
        records.append(Record(rid, fields, f"{path}: row {number + 1}"))
    return records


def _from_json(path: Path, data: Any) -> list[Record]:
    records: list[Record] = []
    seen: dict[str, str] = {}
    if isinstance(data, list):
        for i, fields in enumerate(data):
            if not isinstance(fields, dict):
                raise EvaluatorError(
                    f"{path}: item {i} is {type(fields).__name__}; expected a JSON object per task"
                )
            rid = own_id(fields) or str(i)
            _check_unique(path, rid, f"item {i}", seen)
            records.append(Record(rid, fields, f"{path}[{i}]"))
        return records
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        return [Record(str(k), v, f"{path}[{k!r}]") for k, v in data.items()]
    if isinstance(data, dict) and ("problem" in data or "question" in data):  # one task per file (MATH)
        return [Record(own_id(data) or path.stem, data, str(path))]
    raise EvaluatorError(
        f"{path}: expected a JSON list of tasks or an object keyed by task id, got {type(data).__name__}"
    )


def _check_unique(path: Path, rid: str, where: str, seen: dict[str, str]) -> None:
    if rid in seen:
        raise EvaluatorError(
            f"{path}: {where}: task id {rid!r} already used at {seen[rid]}; ids must be unique"
        )
    seen[rid] = where


def require(record: Record, *names: str) -> list[Any]:
    """The named fields of a record (the first present of each `a|b` alternative), or a clear error."""
    values = []
    fields = record.fields
    for name in names:
        value = fields.get(name)
        if value is not None:  # a plain name present: the common case, read once a row
            values.append(value)
            continue
        options = name.split("|")
        for option in options:
            if fields.get(option) is not None:
                values.append(fields[option])
                break
        else:
            raise EvaluatorError(
                f"{record.where}: missing field {' or '.join(repr(o) for o in options)}; "
                f"fields present: {', '.join(sorted(fields)) or 'none'}"
            )
    return values
