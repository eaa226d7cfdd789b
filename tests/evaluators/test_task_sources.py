"""Lazy task sources: JSONL and Parquet give the same tasks, read one at a time through a cached index."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fnforge.evaluators import EvaluatorError, get_evaluator
from fnforge.evaluators.gsm8k import GSM8KEvaluator
from fnforge.evaluators.task_index import IndexCache
from fnforge.evaluators.task_sources import check_bad_share, open_tasks


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def as_parquet(rows: list[dict], path: Path, row_group_size: int = 7) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def as_jsonl(rows: list, path: Path) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


class CountingGSM8K(GSM8KEvaluator):
    """GSM8K that counts how many records it turned into tasks (how many rows were read)."""

    def __init__(self) -> None:
        self.made = 0

    def task(self, record):
        self.made += 1
        return super().task(record)


@pytest.mark.parametrize("task, file", [("gsm8k", "gsm8k/train.jsonl"), ("math", "math/minerva_math.jsonl")])
def test_parquet_and_jsonl_give_the_same_tasks_as_reading_the_file_whole(
    tmp_path: Path, datasets_dir: Path, task: str, file: str
) -> None:
    evaluator = get_evaluator(task)
    jsonl = datasets_dir / file
    rows = rows_of(jsonl)[:40]
    jsonl = as_jsonl(rows, tmp_path / "split.jsonl")
    parquet = as_parquet(rows, tmp_path / "split.parquet")
    whole = evaluator.load(jsonl)
    lazy_jsonl = open_tasks(evaluator, jsonl, IndexCache(tmp_path / "index"))
    lazy_parquet = open_tasks(evaluator, parquet, IndexCache(tmp_path / "index"))
    assert len(whole) == len(lazy_jsonl) == len(lazy_parquet) == len(rows) >= 20
    assert list(lazy_jsonl) == whole and list(lazy_parquet) == whole
    assert evaluator.load(parquet) == whole  # the eager reader takes Parquet too
    assert [r.format for r in lazy_parquet.reports()] == ["parquet"]


def test_a_split_is_a_sequence_that_reads_only_the_tasks_asked_for(
    tmp_path: Path, datasets_dir: Path
) -> None:
    rows = rows_of(datasets_dir / "gsm8k" / "train.jsonl")[:30]
    path = as_jsonl(rows, tmp_path / "train.jsonl")
    evaluator = CountingGSM8K()
    tasks = open_tasks(evaluator, path, IndexCache(tmp_path / "index"))
    assert evaluator.made == 30  # the one pass that builds the index
    evaluator.made = 0
    window = tasks[10:20]
    assert len(window) == 10 and evaluator.made == 0  # a slice is a view: nothing read
    batch = window.take([3, 0])
    assert [t.id for t in batch] == ["13", "10"] and evaluator.made == 2
    assert tasks[-1].id == "29" and tasks[-1].inputs["question"] == rows[29]["question"]
    with pytest.raises(IndexError):
        tasks[30]
    with pytest.raises(TypeError, match="not pickled"):  # a whole split never travels to a worker
        pickle.dumps(tasks)
    assert pickle.loads(pickle.dumps(list(window))) == list(window)


def test_a_second_open_reads_the_cached_index_and_a_changed_file_rebuilds_it(tmp_path: Path) -> None:
    evaluator = CountingGSM8K()
    rows = [
        {"id": f"q{i}", "question": f"What is {i} plus {i}?", "answer": f"#### {2 * i}"} for i in range(50)
    ]
    path = as_jsonl(rows, tmp_path / "train.jsonl")
    cache = IndexCache(tmp_path / "index")
    first = open_tasks(evaluator, path, cache)
    evaluator.made = 0
    again = open_tasks(evaluator, path, cache)
    assert first.built and not again.built and evaluator.made == 0 and list(again) == list(first)

    with path.open("a", encoding="utf-8") as f:  # a row appended
        f.write(json.dumps({"id": "q50", "question": "What is 50 plus 50?", "answer": "#### 100"}) + "\n")
    grown = open_tasks(evaluator, path, cache)
    assert grown.built and len(grown) == 51 and grown[50].reference == "100"

    # a change of the same size, its mtime put back: the hash of the file's head tells
    st = path.stat()
    path.write_text(path.read_text(encoding="utf-8").replace("#### 0", "#### 9", 1), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    edited = open_tasks(evaluator, path, cache)
    assert edited.built and edited[0].reference == "9"


def test_a_malformed_row_is_an_error_naming_its_file_and_line_never_a_crash(tmp_path: Path) -> None:
    good = [{"id": f"q{i}", "question": f"What is {i}?", "answer": f"#### {i}"} for i in range(6)]
    rows = [good[0], good[1], '{"id": "q9", "question": ', good[2], "[1, 2]", {"id": "q8", "question": "x"}]
    rows += [good[3], {"id": "q1", "question": "again", "answer": "1"}, good[4], good[5]]
    path = as_jsonl(rows, tmp_path / "train.jsonl")
    tasks = open_tasks(get_evaluator("gsm8k"), path)
    assert [t.id for t in tasks] == ["q0", "q1", "q2", "q3", "q4", "q5"]  # every good row still reads
    [report] = tasks.reports()
    assert (report.rows, report.total, report.bad_count) == (6, 10, 4)
    assert report.bad[0].startswith(f"{path}:3: not valid JSON")
    assert report.bad[1] == f"{path}:5: expected a JSON object per line, got list"
    assert report.bad[2].startswith(f"{path}:6: missing field 'answer'")
    assert report.bad[3] == f"{path}:8: task id 'q1' already used at line 2; ids must be unique"
    with pytest.raises(
        EvaluatorError, match=rf"4 of 10 rows of {path} are bad .* the first: {path}:3: not valid"
    ):
        check_bad_share(tasks, 0.001, "[data] train")
    [warning] = check_bad_share(tasks, 0.5, "[data] train")
    assert f"4 of 10 rows of {path} skipped" in warning

    parquet = as_parquet(
        [*good, {"id": "q7", "question": "no answer", "answer": None}], tmp_path / "t.parquet"
    )
    [report] = open_tasks(get_evaluator("gsm8k"), parquet).reports()
    assert report.bad == [f"{parquet}: row 7: missing field 'answer'; fields present: answer, id, question"]


def test_a_folder_is_one_split_with_ids_named_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "split"
    (folder / "b").mkdir(parents=True)
    as_jsonl([{"id": "q1", "question": "one?", "answer": "1"}], folder / "a.jsonl")
    as_parquet([{"id": "q1", "question": "two?", "answer": "2"}], folder / "b" / "c.parquet")
    evaluator = get_evaluator("gsm8k")
    tasks = open_tasks(evaluator, folder, IndexCache(tmp_path / "index"))
    assert [t.id for t in tasks] == ["a:q1", "b/c:q1"] == [t.id for t in evaluator.load(folder)]
    assert list(tasks.ids()) == [b"a:q1", b"b/c:q1"]
    assert [r.format for r in tasks.reports()] == ["jsonl", "parquet"]


def test_a_large_file_is_indexed_in_a_worker_process_with_the_same_result(
    tmp_path: Path, monkeypatch
) -> None:
    import fnforge.evaluators.task_sources as task_sources

    rows: list = [{"question": f"What is {i} and {i}?", "answer": f"#### {2 * i}"} for i in range(300)]
    rows[250] = '{"question": "cut'  # a bad row in the file's second half: its line must still be right
    path = as_jsonl(rows, tmp_path / "train.jsonl")
    here = open_tasks(get_evaluator("gsm8k"), path)  # no cache: built in this process
    monkeypatch.setattr(task_sources, "WORKER_ROWS", 100)
    there = open_tasks(get_evaluator("gsm8k"), path, IndexCache(tmp_path / "index"))
    assert there.build["by"] == "worker" and there.build["rows"] == 299 and here.build["by"] == "this process"
    assert list(there) == list(here) and there[250].id == "251"  # line-number ids past the bad row
    [bad] = there.reports()[0].bad
    assert bad == here.reports()[0].bad[0] and bad.startswith(f"{path}:251: not valid JSON")
    assert list(there.id_order()) == list(here.id_order())
