"""The host side of the worker protocol: only well-formed JSON objects are believed.

A transport that replays bytes stands in for a worker that has gone wrong; every fault
ends in WorkerLost (and a kill), never in a host-side exception of another kind, an eval
or an unpickle.
"""

from __future__ import annotations

import json
import pickle
import struct
import time

import pytest

from fnforge.sandbox.transport import (
    MAX_REPLY,
    RequestNotSent,
    Transport,
    WorkerClient,
    WorkerLost,
    WorkerSilent,
)


class Replay(Transport):
    """Answers every request with fixed bytes, then end of file."""

    def __init__(self, data: bytes, hang: bool = False):
        self.data = data
        self.hang = hang
        self.sent: list[bytes] = []
        self.killed = False

    def send(self, data: bytes) -> None:
        self.sent.append(data)

    def recv(self, deadline: float) -> bytes:
        if self.data:
            data, self.data = self.data, b""
            return data
        if self.hang:
            time.sleep(max(0.0, deadline - time.monotonic()))
            raise TimeoutError
        return b""

    def kill(self) -> None:
        self.killed = True


def framed(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def test_a_reply_with_the_request_id_is_returned_and_stale_ones_are_skipped():
    stale = framed(json.dumps({"id": 99, "ok": True}).encode())
    good = framed(json.dumps({"id": 1, "ok": True, "value_json": "3"}).encode())
    client = WorkerClient(Replay(stale + good))
    assert client.request({"op": "ping"}, 1.0) == {"id": 1, "ok": True, "value_json": "3"}


@pytest.mark.parametrize(
    "data, why",
    [
        (framed(b"not json at all"), "not JSON"),
        (framed(pickle.dumps({"id": 1})), "not JSON"),
        (framed(b"[1, 2, 3]"), "not a JSON object"),
        (struct.pack(">I", MAX_REPLY + 1) + b"x", "limit"),
        (framed(b"[" * 100_000 + b"]" * 100_000), "not JSON"),
        (b"", "exited"),
    ],
)
def test_anything_but_a_json_object_frame_kills_the_worker(data, why):
    transport = Replay(data)
    client = WorkerClient(transport)
    with pytest.raises(WorkerLost, match=why):
        client.request({"op": "ping"}, 1.0)
    assert transport.killed and client.broken


def test_a_silent_worker_is_killed_at_the_host_deadline():
    transport = Replay(b"", hang=True)
    client = WorkerClient(transport)
    start = time.monotonic()
    with pytest.raises(WorkerSilent, match="did not answer within 0.3s"):
        client.request({"op": "ping"}, 0.3)
    assert time.monotonic() - start < 2 and transport.killed
    with pytest.raises(RequestNotSent, match="replaced"):  # nothing is sent to a killed worker
        client.request({"op": "ping"}, 0.3)


def test_a_holder_keeps_its_announced_spares_and_forks_in_flight_up_to_the_limit():
    from fnforge.sandbox.worker.sweep import impostors

    assert impostors([10, 11], {10, 11}, 2) == []
    assert impostors([10, 11, 12], {10, 11}, 2) == [12]  # one more than the spares: an impostor
    assert impostors([10, 12], {10}, 2) == []  # 12 is a spare being forked right now
    assert impostors([9, 10, 12], {10}, 0) == [9, 12]  # right after a load: only announced spares
