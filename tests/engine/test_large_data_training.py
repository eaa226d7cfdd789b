"""Training on lazily read splits: Parquet and JSONL give the same run; a validation sample is recorded.

The demo's direct-mode repository (real TabMWP problems, the reviewed edits standing in for the
optimizer, the Docker sandbox) trains once on its splits written as JSONL and once as Parquet:
every decision, score and batch is the same. With `[data] val_sample` the gates score the first
N tasks of `validation_order`, and the step's note and the validation verdict say so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from demo_world import EXAMPLES, direct_repo

from fnforge.engine.experiment import Experiment
from fnforge.engine.trainer import train
from fnforge.engine.validation_order import validation_order
from fnforge.function_repo import FunctionRepo
from fnforge.report.collect import collect


def rows(split: str) -> list[dict]:
    keyed = json.loads((EXAMPLES / "tabmwp" / f"{split}.json").read_text(encoding="utf-8"))
    return [{"id": key, **fields} for key, fields in keyed.items()]


def with_data(repo: FunctionRepo, fmt: str, settings: str = "") -> FunctionRepo:
    """The repository's splits rewritten as `fmt` files, and fnforge.toml pointed at them."""
    config = (repo.root / "fnforge.toml").read_text()
    for split in ("train", "val", "test"):
        path = repo.root / "data" / f"{split}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(rows(split)), path, row_group_size=16)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows(split)), encoding="utf-8")
        config = config.replace(f'"data/{split}.json"', f'"data/{split}.{fmt}"')
    config = re.sub(r"(?m)^\[data\]$", "[data]\n" + settings, config)
    (repo.root / "fnforge.toml").write_text(config)
    repo.git.run("add", "-A")
    repo.git.run("commit", "-q", "-m", f"data as {fmt}")
    return FunctionRepo.open(repo.root)


class CountedSteps:
    """A repository's `steps` that counts its calls."""

    def __init__(self, steps) -> None:
        self.steps, self.reads = steps, 0

    def __call__(self, *args, **kwargs):
        self.reads += 1
        return self.steps(*args, **kwargs)


def decisions(repo: FunctionRepo) -> list[tuple]:
    return [
        (r.step, r.decision, r.gate, r.score_before, r.score_after, r.note.get("batch"))
        for r in repo.steps(include_rejected=True)
    ]


def test_a_parquet_split_and_a_jsonl_split_give_the_same_tasks_and_the_same_run(
    tmp_path: Path, docker_pool
) -> None:
    by_format = {}
    for fmt in ("jsonl", "parquet"):
        repo = with_data(direct_repo(tmp_path / fmt), fmt)
        with Experiment(repo, pool=docker_pool, splits=("train", "val", "test")) as exp:
            tasks = {split: list(exp.tasks(split)) for split in ("train", "val", "test")}
        counted = CountedSteps(repo.steps)  # every read of the recorded steps with their notes
        repo.steps = counted
        result = train(repo, run="demo", pool=docker_pool)
        del repo.steps
        # the run's name and the trainer's start read the history; its three steps append to it
        assert counted.reads == 2
        by_format[fmt] = (tasks, [(s.accepted, s.gate, s.score_after) for s in result.steps], decisions(repo))
    assert by_format["jsonl"][0] == by_format["parquet"][0]  # the same tasks, task by task
    assert by_format["jsonl"][1] == by_format["parquet"][1] and len(by_format["jsonl"][1]) == 3
    assert by_format["jsonl"][2] == by_format["parquet"][2]  # the same batches, scores and decisions
    assert any(accepted for accepted, _, _ in by_format["jsonl"][1])


def test_val_sample_scores_the_first_n_of_the_seeded_order_and_the_note_says_so(
    tmp_path: Path, docker_pool
) -> None:
    repo = with_data(direct_repo(tmp_path / "fns", max_steps=1), "jsonl", "val_sample = 40\n")
    with Experiment(repo, pool=docker_pool) as exp:
        order = validation_order(len(exp.val_split), exp.settings.training.seed, 40)
        assert [t.id for t in exp.val_tasks] == [exp.val_split[i].id for i in order]
        assert len(exp.val_split) == 100 and exp.val_sample.to_dict() == {"size": 40, "of": 100}
    events = []
    result = train(repo, run="demo", pool=docker_pool, progress=lambda e, **kw: events.append((e, kw)))
    [step] = result.steps
    assert "a seeded sample of 40 of 100 validation tasks" in step.reason
    note = repo.steps(include_rejected=True)[-1].note
    assert note["validation_sample"] == {"size": 40, "of": 100}
    validation = next(v for v in note["verdicts"] if v["gate"] == "validation")
    assert validation["details"]["n"] == 40 and validation["details"]["sample"] == {"size": 40, "of": 100}
    assert ("data", {"sample": {"size": 40, "of": 100}}) in events
    [shown] = collect(repo.root).steps  # the report's verdict column says so too
    assert "a seeded sample of 40 of 100 validation tasks" in shown.reason
