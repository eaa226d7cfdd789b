"""The worker's handle on one holder, and the phases of a call through it.

A holder (see `holder`) is a process per loaded set that keeps call children forked. The
worker holds its pipes here and follows one call in phases: `discard_stale` (what an
earlier call's child wrote after its answer), `send` (the request, within the deadline),
`await_answer` (until the child's result, the wall clock, the output limit or the child's
death ends the wait). How the wait ended is an `Ending`, never a string; naming the error
is the caller's last phase (`loaded_sets.LoadedSets.classify`).
"""

import enum
import json
import os
import select
import time

from .holder import SPARES, holder_main
from .output import discard
from .processes import fork
from .protocol import FrameReader, frame, write_all


class Ending(enum.Enum):
    """Why the worker stopped waiting for a call without taking its answer."""

    TIMEOUT = "timeout"  # the wall clock ran out (before or after a child took the request)
    OUTPUT = "output"  # the call printed more than the output limit
    CRASHED = "crashed"  # the child, or every process of the set, ended without a result


class CallInFlight:
    """One call as the worker follows it: its deadline, the child that took it, how it ended."""

    def __init__(self, req, started, oom_before, output):
        self.id = req["id"]
        self.timeout = float(req.get("timeout", 5))
        self.started = started
        self.deadline = started + self.timeout
        args = json.dumps(req.get("args", {}))
        self.request = {"id": req["id"], "name": req["name"], "args": args, "timeout": self.timeout}
        self.oom_before = oom_before
        self.output = output  # CapturedOutput of the set's pipe for this call
        self.child = None  # pid of the call child that took the request
        self.status = None  # its wait status, once the holder reported its exit
        self.result = None  # its "result" message
        self.ending = None  # an Ending when the wait stopped without taking the result

    @property
    def answered(self):
        """True when the child's result is the answer (nothing cut the call short)."""
        return self.ending is None and self.result is not None

    def end(self, ending):
        """Record why the wait ended, keeping the first reason."""
        self.ending = self.ending or ending


class Holder:
    """The worker's handle on one loaded set's holder and its announced spare call children."""

    def __init__(self, pid, to_fd, ctrl, out_fd, res, go_fd):
        self.pid, self.to_fd, self.ctrl, self.out_fd, self.res = pid, to_fd, ctrl, out_fd, res
        self.go_fd = go_fd
        self.used = time.monotonic()
        self.spares = set()
        self.used_children = set()
        self.statuses = {}
        self.alive = True
        self.loaded = None

    @classmethod
    def start(cls, modules, limits, reap):
        """Fork a holder that imports `modules`; the handle, before it said "loaded"."""
        c2h_r, c2h_w = os.pipe()
        h2c_r, h2c_w = os.pipe()
        go_r, go_w = os.pipe()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            pid = fork(reap)
        except OSError:
            for fd in (c2h_r, c2h_w, h2c_r, h2c_w, go_r, go_w, out_r, out_w, res_r, res_w):
                os.close(fd)
            raise
        if pid == 0:
            try:
                holder_main(modules, c2h_r, h2c_w, go_r, out_w, res_w, limits)
            finally:
                os._exit(70)
        for fd in (c2h_r, h2c_w, go_r, out_w, res_w):
            os.close(fd)
        os.set_blocking(out_r, False)
        os.set_blocking(go_w, False)
        return cls(pid, c2h_w, FrameReader(h2c_r), out_r, FrameReader(res_r), go_w)

    def note(self, messages):
        """Take in the holder's announcements: spares forked, children exited, the set loaded."""
        for m in messages:
            kind = m.get("kind")
            if kind == "spare":
                if m.get("pid") not in self.used_children:  # an announcement can arrive after its use
                    self.spares.add(m.get("pid"))
            elif kind == "done":
                self.statuses[m.get("pid")] = m.get("status")
                self.spares.discard(m.get("pid"))
            elif kind == "loaded":
                self.loaded = m
        if len(self.statuses) > 64:
            self.statuses = dict(list(self.statuses.items())[-16:])

    def hear(self):
        """Read the announcements waiting on the control pipe (call when it is readable)."""
        if not self.ctrl.feed():
            self.alive = False
        self.note(self.ctrl.frames())

    def await_loaded(self, deadline, output):
        """Wait until the holder says "loaded", dies, or `deadline` passes; capture its output."""
        while self.loaded is None and self.alive and time.monotonic() < deadline:
            wait = max(0.0, deadline - time.monotonic())
            ready = select.select([self.ctrl.fd, self.out_fd], [], [], wait)[0]
            if self.out_fd in ready:
                output.read(self.out_fd)
            if self.ctrl.fd in ready:
                self.hear()
        if self.loaded is not None:
            output.read_all(self.out_fd)

    def settle(self, wait=0.05):
        """Wait briefly until the holder has announced all its spares (after a load)."""
        limit = time.monotonic() + wait
        while self.alive and len(self.spares) < SPARES:
            left = limit - time.monotonic()
            if left <= 0 or not self.listen(left):
                return

    def listen(self, wait=0.0):
        """Read the holder's announcements that arrive within `wait`; False when none did."""
        if not select.select([self.ctrl.fd], [], [], wait)[0]:
            return False
        self.hear()
        return True

    # -- the phases of one call
    def discard_stale(self):
        """Drop whatever an earlier call's child wrote after its answer: it belongs to no one."""
        discard(self.out_fd)
        for _ in range(64):
            if not select.select([self.res.fd], [], [], 0)[0] or not self.res.feed():
                break
            self.res.frames()

    def send(self, call):
        """Write the request to the set's spare children, within the call's deadline."""
        try:
            write_all(self.to_fd, frame(call.request), call.deadline)
        except TimeoutError:
            call.end(Ending.TIMEOUT)
        except OSError:  # no process reads the set's request pipe: its holder and spares are gone
            call.end(Ending.CRASHED)

    def await_answer(self, call):
        """Wait for the call's result until the wall clock, the output limit or a death ends it."""
        while call.result is None and call.ending is None:
            left = call.deadline - time.monotonic()
            if left <= 0:
                call.end(Ending.TIMEOUT)
                break
            fds = [self.out_fd, self.res.fd] + ([self.ctrl.fd] if self.alive else [])
            ready = select.select(fds, [], [], left)[0]
            if self.out_fd in ready:
                call.output.read(self.out_fd)
                if call.output.over:
                    call.end(Ending.OUTPUT)
            if self.res.fd in ready:
                if not self.res.feed():
                    call.end(Ending.CRASHED)
                self._take_results(call)
            if self.alive and self.ctrl.fd in ready:
                self.hear()
            if call.result is None and call.child is not None and call.child in self.statuses:
                self._child_exited(call)
        if call.ending is not Ending.OUTPUT:
            call.output.read_all(self.out_fd)
            if call.output.over and call.result is not None:
                call.end(Ending.OUTPUT)

    def _take_results(self, call):
        """The call's messages on the result pipe: which child started it, and its result."""
        for m in self.res.frames():
            if m.get("id") != call.id:
                continue
            if m.get("kind") == "started":
                call.child = m.get("pid")
                self.used_children.add(call.child)
                if len(self.used_children) > 64:
                    self.used_children = {call.child}
                self.spares.discard(call.child)  # used up; the holder forks a replacement
            elif m.get("kind") == "result":
                call.result = m

    def _child_exited(self, call):
        """The child has exited: whatever it wrote is in the pipes now, or it crashed."""
        call.status = self.statuses[call.child]
        while select.select([self.res.fd], [], [], 0)[0] and self.res.feed():
            pass
        for m in self.res.frames():
            if m.get("id") == call.id and m.get("kind") == "result":
                call.result = m
        if call.result is None:
            call.ending = Ending.CRASHED  # what ended it, even when it had also printed too much

    def let_fork(self):
        """The answer has left: now the holder may fork the next spare."""
        try:
            os.write(self.go_fd, b"g")
        except OSError:
            pass

    def close(self):
        """Close the worker's ends of the holder's pipes (the holder ends at end of file)."""
        for fd in (self.to_fd, self.ctrl.fd, self.out_fd, self.res.fd, self.go_fd):
            try:
                os.close(fd)
            except OSError:
                pass
