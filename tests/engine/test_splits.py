"""Which tasks two splits share: by own id, or by the same question after normalisation."""

from __future__ import annotations

from fnforge.engine.splits import normalised_question, shared_task
from fnforge.evaluators.task import Task


def task(tid: str, question: str) -> Task:
    return Task(id=tid, inputs={"question": question}, reference="1")


def test_disjoint_splits_share_nothing_even_with_line_number_ids() -> None:
    train = [task("0", "How many apples?"), task("1", "How many pears?")]
    val = [task("0", "How many plums?"), task("1", "How many figs?")]
    assert shared_task({"train": train, "val": val}) is None


def test_the_same_question_is_found_through_case_and_spacing() -> None:
    train = [task("0", "How many apples?"), task("1", "How  many\npears?")]
    test = [task("a", "x"), task("b", "how many   PEARS?")]
    assert normalised_question(test[1]) == "how many pears?"
    found = shared_task({"train": train, "val": [task("v", "y")], "test": test})
    assert found == "task 'b' of test has the same question as task '1' of train: 'how many pears?'"


def test_the_same_own_id_is_found() -> None:
    train = [task("p-17", "one"), task("p-3", "two")]
    val = [task("p-9", "three"), task("p-17", "four")]
    assert shared_task({"train": train, "val": val}) == "task 'p-17' is in both train and val (same id)"


def test_the_same_question_about_another_table_is_another_task() -> None:
    def tab(tid: str, table: str) -> Task:
        return Task(id=tid, inputs={"question": "Is the function linear?", "table": table}, reference="yes")

    assert shared_task({"train": [tab("11", "x | y\n1 | 2")], "val": [tab("12", "x | y\n1 | 3")]}) is None
    found = shared_task({"train": [tab("11", "x | y\n1 | 2")], "val": [tab("12", "x  | y\n1 | 2")]})
    assert found is not None and found.startswith(
        "task '12' of val has the same question as task '11' of train"
    )


def test_the_overlap_refusal_works_on_streamed_splits_of_either_format(tmp_path) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from fnforge.evaluators import get_evaluator
    from fnforge.evaluators.task_index import IndexCache
    from fnforge.evaluators.task_sources import open_tasks

    rows = [
        {"id": f"t{i}", "question": f"Ticket {i}: what is {i} plus 1?", "answer": f"#### {i + 1}"}
        for i in range(300)
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:200]))
    val_rows = [*rows[200:250], {**rows[17], "id": "v17", "question": "  TICKET 17: what is 17 plus 1? "}]
    pq.write_table(pa.Table.from_pylist(val_rows), tmp_path / "val.parquet", row_group_size=16)
    pq.write_table(pa.Table.from_pylist([*rows[250:], rows[42]]), tmp_path / "test.parquet")
    gsm, cache = get_evaluator("gsm8k"), IndexCache(tmp_path / "index")
    train = open_tasks(gsm, tmp_path / "train.jsonl", cache)
    val = open_tasks(gsm, tmp_path / "val.parquet", cache)
    test = open_tasks(gsm, tmp_path / "test.parquet", cache)
    assert shared_task({"train": train, "val": val}) == (
        "task 'v17' of val has the same question as task 't17' of train: 'ticket 17: what is 17 plus 1?'"
    )
    assert shared_task({"train": train, "val": val[:50]}) is None  # a view of the split streams too
    assert (
        shared_task({"train": train, "val": val[:50], "test": test})
        == "task 't42' is in both train and test (same id)"
    )
    # the streamed check and the in-memory one say the same
    assert shared_task({"train": list(train), "val": list(val)}) == shared_task({"train": train, "val": val})
