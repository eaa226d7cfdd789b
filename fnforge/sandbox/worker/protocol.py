"""The worker's wire format: a 4-byte big-endian length, then compact JSON.

The same frames carry the host's requests and the worker's replies (on private descriptors,
see `server.main`) and every message between the worker, its holders and their children.
The encoder and the raw write are captured when this module is imported, before any user
code runs: a call child that monkeypatches json, os or builtins must still be able to
report its own result (and cannot reach anyone else's).
"""

import json
import os
import select
import struct
import time

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024

ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_WRITE = os.write
_PACK = HEADER.pack


def frame(obj):
    """One protocol frame: a 4-byte big-endian length and compact JSON."""
    data = ENCODE(obj).encode()
    return _PACK(len(data)) + data


def write_all(fd, data, deadline=None):
    """Write every byte, waiting for the pipe to drain until `deadline` (monotonic)."""
    view = memoryview(data)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError("peer stopped reading")
        n = _WRITE(fd, view[: 1 << 16])
        view = view[n:]


class FrameReader:
    """Accumulates bytes from one descriptor and yields complete frames."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.eof = False

    def feed(self):
        """Read what is there (call when select says readable); False at end of file."""
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def frames(self):
        """Complete frames received so far (a malformed frame ends the stream)."""
        out = []
        while len(self.buf) >= 4:
            (size,) = HEADER.unpack_from(self.buf)
            if size > MAX_FRAME:
                self.eof = True
                self.buf.clear()
                break
            if len(self.buf) < 4 + size:
                break
            body = bytes(self.buf[4 : 4 + size])
            del self.buf[: 4 + size]
            try:
                out.append(json.loads(body))
            except ValueError:
                self.eof = True
        return out


def read_frame_blocking(fd):
    """The next frame from `fd`, or None at end of file."""
    reader = FrameReader(fd)
    while True:
        got = reader.frames()
        if got:
            return got[0], reader
        if not reader.feed():
            return None, reader


def read_ready(fd):
    """What a non-blocking descriptor holds now (b"" at end of file; b"?" when nothing yet)."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b"?"
    except OSError:
        return b""
