"""A variant of the GSM8K world for the acceptance, pre-check and sealed-split tests.

It uses the GSM8K slice shipped in `tests/data/gsm8k` (so a fresh clone needs nothing else)
and a scripted optimizer whose one edit is a `calculate` that knows a chosen set of
calculations and raises on every other: the edit fixes exactly those tasks and breaks none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gsm8k_world as world
from llm_server import Reply, tool_calls

from fnforge.function_repo import FunctionRepo

SHIPPED = Path(__file__).resolve().parents[1] / "data"


def records(n: int, skip: int = 0) -> list[dict[str, Any]]:
    """`n` usable GSM8K records from the shipped slice."""
    return world.pick_records(SHIPPED, n, skip)


def answer_of(record: dict[str, Any]) -> float:
    """The final numeric answer of a GSM8K record."""
    return float(record["answer"].rsplit("####", 1)[-1].strip().replace(",", ""))


def knowing(known: list[dict[str, Any]]) -> str:
    """A `calculate` that answers exactly the final calculations of `known` and raises otherwise."""
    table = {world.final_expression(r["answer"]): answer_of(r) for r in known}
    return f'''"""A calculator that only knows a few calculations by heart."""

PACKAGES = []

KNOWN = {json.dumps(table)}


def calculate(expression: str) -> float:
    """The value of a calculation this table knows.

    Args:
        expression: the calculation, e.g. "48/2".

    Returns:
        Its value.

    Raises:
        ValueError: for any calculation not in the table.
    """
    if expression in KNOWN:
        return float(KNOWN[expression])
    raise ValueError("unknown calculation")
'''


class OneEditWorld(world.GSM8KWorld):
    """The GSM8K agent, and an optimizer that always proposes the same `calculate` edit."""

    def __init__(self, records: list[dict[str, Any]], code: str):
        super().__init__(records)
        self.code = code

    def optimizer(self, body: dict) -> Reply:
        return tool_calls(
            (
                "add_function",
                {"name": "calculate", "description": "Known sums.", "packages": [], "code": self.code},
            )
        )


def make_repo(
    path: Path,
    base_url: str,
    train: list[dict[str, Any]],
    val: list[dict[str, Any]],
    *,
    test: list[dict[str, Any]] | None = None,
    training: str = "",
    max_steps: int = 1,
) -> FunctionRepo:
    """A function repository on these splits with the world's config (batch 4, one step by default)."""
    text = world.config_text(base_url, extra_training=training).replace(
        "max_steps = 10", f"max_steps = {max_steps}"
    )
    if test is not None:
        text = text.replace('val = "data/val.jsonl"\n', 'val = "data/val.jsonl"\ntest = "data/test.jsonl"\n')
    repo = FunctionRepo.init(path, config_text=text)
    world.write_split(path / "data" / "train.jsonl", train)
    world.write_split(path / "data" / "val.jsonl", val)
    if test is not None:
        world.write_split(path / "data" / "test.jsonl", test)
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K slices")
    return repo
