"""The trainer's in-flight state file: written whole, throttled for task counts, cleared, and read
as stale once the process that wrote it is gone."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from fnforge.engine.run_state import InFlightWriter, in_flight_path, read_in_flight


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_step_moves_through_its_phases_and_the_reader_sees_each(tmp_path) -> None:
    clock = Clock()
    w = InFlightWriter(tmp_path, "train-1", clock=clock)
    assert read_in_flight(tmp_path) is None
    w.start_step(4)
    assert (
        read_in_flight(tmp_path)["phase"] == "train"
        and read_in_flight(tmp_path)["phase_label"] == "train batch"
    )
    w.tasks("train", 1, 8)
    w.spend(
        {"http_requests": 9, "tokens": 1234, "cost_usd": 0.01, "calls": 3},
        {"spent": {"usd": 0.01}, "limits": {"usd": 1}},
    )
    w.phase("precheck")
    state = read_in_flight(tmp_path)
    assert (state["run"], state["step"], state["phase_label"], state["tasks"]) == (
        "train-1",
        4,
        "pre-check",
        None,
    )
    assert state["spend"] == {"http_requests": 9, "tokens": 1234, "cost_usd": 0.01}
    assert state["budget"] == {"spent": {"usd": 0.01}, "limits": {"usd": 1}} and state["stale"] is False
    w.start_step(5)  # the run's spend and budget carry over to the next step
    assert read_in_flight(tmp_path)["spend"]["tokens"] == 1234 and read_in_flight(tmp_path)["step"] == 5
    w.clear()
    assert read_in_flight(tmp_path) is None and not in_flight_path(tmp_path).exists()


def test_task_counts_are_written_at_most_every_interval_but_the_last_always(tmp_path) -> None:
    clock = Clock()
    w = InFlightWriter(tmp_path, "r", min_interval_s=0.5, clock=clock)
    w.start_step(1)
    w.phase("validation")
    w.tasks("val-head", 1, 10)
    clock.now += 0.1
    w.tasks("val-head", 2, 10)
    assert read_in_flight(tmp_path)["tasks"]["done"] == 1  # too soon after the last write
    clock.now += 0.5
    w.tasks("val-head", 3, 10)
    assert read_in_flight(tmp_path)["tasks"]["done"] == 3
    clock.now += 0.01
    w.tasks("val-head", 10, 10)
    assert read_in_flight(tmp_path)["tasks"] == {"split": "val-head", "done": 10, "total": 10}


def test_a_reader_never_sees_half_a_file_while_the_writer_rewrites_it(tmp_path) -> None:
    w = InFlightWriter(tmp_path, "r", min_interval_s=0.0)
    w.start_step(1)
    stop = threading.Event()
    seen, broken = [], []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(json.loads(in_flight_path(tmp_path).read_text())["tasks"])
            except ValueError as e:
                broken.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(2000):
        w.tasks("train", i, 2000)
    stop.set()
    reader.join()
    assert not broken and len(seen) > 10
    assert [p.name for p in in_flight_path(tmp_path).parent.iterdir()] == [
        "in-flight.json"
    ]  # no temp files left


def test_a_state_left_by_a_killed_trainer_reads_as_stale(tmp_path) -> None:
    code = (
        "import sys; from fnforge.engine.run_state import InFlightWriter; "
        "w = InFlightWriter(sys.argv[1], 'r'); w.start_step(3); w.phase('optimizer')"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)  # exits without clearing
    state = read_in_flight(tmp_path)
    assert state["step"] == 3 and state["phase"] == "optimizer" and state["stale"] is True
