"""What a child prints, captured from its output pipe and bounded by the output limit.

Children write stdout and stderr into one pipe per loaded set (or per property run); the
worker keeps at most `limit` bytes, plus one more so that it can tell "exactly the limit"
from "over it", and never blocks on the pipe.
"""

import os
import select


class CapturedOutput:
    """The bytes read from one output pipe for one request, kept up to its limit (+1)."""

    def __init__(self, limit):
        self.limit = limit
        self.data = bytearray()

    @property
    def over(self):
        """True when the children printed more than the limit."""
        return len(self.data) > self.limit

    def read(self, fd):
        """Read what is in the pipe now; False at end of file."""
        try:
            chunk = os.read(fd, 1 << 16)
        except (BlockingIOError, OSError):
            return True
        if not chunk:
            return False
        if len(self.data) <= self.limit:
            self.data += chunk[: self.limit + 1 - len(self.data)]
        return True

    def read_all(self, fd):
        """Read until the pipe is empty, at end of file, or past the limit."""
        while not self.over and select.select([fd], [], [], 0)[0]:
            if not self.read(fd):
                return

    def text(self):
        """The captured output as text, cut at the limit."""
        return self.data[: self.limit].decode("utf-8", "replace")


def discard(fd, rounds=64):
    """Read and drop what a non-blocking pipe holds now (at most `rounds` reads)."""
    for _ in range(rounds):
        if not select.select([fd], [], [], 0)[0]:
            return
        try:
            if not os.read(fd, 1 << 16):
                return
        except (BlockingIOError, OSError):
            pass
