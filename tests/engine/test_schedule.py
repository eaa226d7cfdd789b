"""The batch schedule and a run's position are pure functions of the seed and the recorded steps."""

from __future__ import annotations

from dataclasses import dataclass

from fnforge.engine.run_records import progress_state
from fnforge.engine.schedule import batch_schedule


@dataclass
class T:
    id: str


@dataclass
class R:
    step: int
    gate: str | None
    accepted: bool


def test_each_epoch_is_a_seeded_shuffle_of_every_task_cut_into_batches() -> None:
    tasks = [T(str(i)) for i in range(10)]
    a = batch_schedule(tasks, 4, 3, seed=7)
    assert [len(b) for b in a] == [4, 4, 2] * 3
    for epoch in range(3):
        assert sorted(t.id for b in a[epoch * 3 : epoch * 3 + 3] for t in b) == sorted(t.id for t in tasks)
    assert [t.id for t in a[0]] != [t.id for t in a[3]]  # a fresh shuffle per epoch
    assert batch_schedule(list(reversed(tasks)), 4, 3, seed=7) == a  # input order does not matter
    assert batch_schedule(tasks, 4, 3, seed=8) != a


def test_position_and_patience_come_from_the_recorded_steps_and_skip_interruptions() -> None:
    records = [
        R(1, None, True),
        R(2, "property", False),
        R(3, "interrupted", False),
        R(4, "validation", False),
    ]
    assert progress_state(records) == (3, 2)
    assert progress_state(records + [R(5, None, True)]) == (4, 0)
    assert progress_state([]) == (0, 0)
