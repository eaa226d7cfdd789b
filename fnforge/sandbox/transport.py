"""How the host talks to one worker: framed JSON over a byte stream, with a wall clock.

A `Transport` moves bytes to and from one worker (a container's attached stdio, or a
subprocess's pipes); a `WorkerClient` speaks the worker protocol over it. The host enforces
every deadline itself: a worker that does not answer in time is killed, never trusted to
stop on its own. Replies are parsed with `json.loads` only (never unpickled or evaluated),
size-capped, and must be JSON objects.
"""

from __future__ import annotations

import itertools
import json
import struct
import time
from abc import ABC, abstractmethod
from typing import Any

HEADER = struct.Struct(">I")
MAX_REPLY = 64 * 1024 * 1024


class WorkerLost(Exception):
    """The worker stopped answering, sent something that is not a frame, or died."""


class WorkerSilent(WorkerLost):
    """The worker did not answer within the host's deadline; it was killed."""


class RequestNotSent(WorkerLost):
    """The request reached no worker (the one asked was already replaced, or none could be
    started): nothing ran, so repeating it is safe."""


class Transport(ABC):
    """A byte pipe to one worker process plus the power to kill it."""

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Write bytes to the worker's protocol input."""

    @abstractmethod
    def recv(self, deadline: float) -> bytes:
        """Some bytes of the worker's protocol output; b"" at end; TimeoutError past deadline."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the worker for good and release what it holds (idempotent)."""

    def diagnostics(self) -> str:
        """What the worker wrote to stderr before it took over its descriptors (for errors)."""
        return ""


class WorkerClient:
    """One warm worker: request/reply with ids, deadlines, and a record of whether it broke."""

    def __init__(self, transport: Transport, name: str = "worker"):
        self.transport = transport
        self.name = name
        self.broken = False
        self._ids = itertools.count(1)
        self._buf = bytearray()

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its reply; raise WorkerLost (and kill) on any fault."""
        if self.broken:
            raise RequestNotSent(f"{self.name} was already replaced")
        req_id = next(self._ids)
        payload = json.dumps({**message, "id": req_id}, separators=(",", ":"), allow_nan=False).encode()
        deadline = time.monotonic() + timeout
        try:
            self.transport.send(HEADER.pack(len(payload)) + payload)
            while True:
                reply = self._next_frame(deadline)
                if reply.get("id") == req_id:
                    return reply
        except WorkerLost:
            self.kill()
            raise
        except TimeoutError:
            self.kill()
            raise WorkerSilent(f"{self.name} did not answer within {timeout:g}s; killed") from None
        except OSError as e:
            self.kill()
            raise WorkerLost(f"{self.name} connection failed: {e}") from None

    def _next_frame(self, deadline: float) -> dict[str, Any]:
        while True:
            if len(self._buf) >= 4:
                (size,) = HEADER.unpack_from(self._buf)
                if size > MAX_REPLY:
                    raise WorkerLost(f"{self.name} sent a {size}-byte frame; the limit is {MAX_REPLY}")
                if len(self._buf) >= 4 + size:
                    body = bytes(self._buf[4 : 4 + size])
                    del self._buf[: 4 + size]
                    try:
                        reply = json.loads(body)
                    except (ValueError, RecursionError):
                        raise WorkerLost(f"{self.name} sent a frame that is not JSON") from None
                    if not isinstance(reply, dict):
                        raise WorkerLost(f"{self.name} sent a frame that is not a JSON object")
                    return reply
            data = self.transport.recv(deadline)
            if not data:
                extra = self.transport.diagnostics().strip()
                raise WorkerLost(f"{self.name} exited" + (f": {extra[-500:]}" if extra else ""))
            self._buf += data

    def kill(self) -> None:
        """Mark broken and kill the worker behind the transport."""
        self.broken = True
        try:
            self.transport.kill()
        except Exception:
            pass
