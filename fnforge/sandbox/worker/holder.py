"""The holder: one process per loaded function set, which keeps call children ready.

It imports the set's modules once, then only forks spares (each a future call child, see
`call_child`), passes the turn to read the next request among them, and reports each child's
exit to the worker. It never runs user code again after loading, and keeps no threads, so
every fork is a clean copy of the loaded set.
"""

import os
import select
import signal

from .call_child import call_child, flush_std
from .function_set import install_functions
from .processes import (
    apply_rlimits,
    child_setup,
    close_fds_except,
    die_with_parent,
    fork,
    process_limit,
    set_oom_score,
)
from .protocol import frame, read_ready, write_all

SPARES = 2  # call children each holder keeps forked and waiting: back-to-back calls never wait for a fork


class Spares:
    """The holder's queue of pre-forked call children, oldest first.

    Only the oldest has the turn to read the request pipe; each spare has private pipes for
    the turn (holder -> spare) and for "took a request" (spare -> holder), so a running call
    can neither hand a turn to a waiting spare nor pretend that one took a request.
    """

    def __init__(self, fork_child, announce):
        self.fork_child, self.announce = fork_child, announce
        self.queue = []  # [pid, turn_w, took_r]

    def fork(self):
        """Fork one more spare and give it the turn if no one has it."""
        turn_r, turn_w = os.pipe()
        took_r, took_w = os.pipe()
        pid = fork()
        if pid == 0:
            self.fork_child(turn_r, took_w)
        os.close(turn_r)
        os.close(took_w)
        os.set_blocking(took_r, False)
        self.queue.append([pid, turn_w, took_r])
        self.announce(pid)
        if len(self.queue) == 1:
            self.give_turn()

    def fill(self):
        while len(self.queue) < SPARES:
            self.fork()

    def give_turn(self):
        if self.queue:
            try:
                os.write(self.queue[0][1], b"r")
            except OSError:
                pass  # it died already; its exit passes the turn on

    def watched(self):
        """The descriptor that says the spare with the turn took its request (or died)."""
        return [self.queue[0][2]] if self.queue else []

    def took(self):
        """The spare with the turn read its request (True) or died (False); the next gets the turn."""
        taken = bool(read_ready(self.queue[0][2]))
        self.retire(self.queue[0][0])
        return taken

    def retire(self, pid):
        """Forget `pid` (taken or dead); True when it was a spare."""
        for i, (p, turn_w, took_r) in enumerate(self.queue):
            if p == pid:
                os.close(turn_w)
                os.close(took_r)
                del self.queue[i]
                if i == 0:
                    self.give_turn()
                return True
        return False


def holder_main(modules, c2h_r, h2c_w, go_r, out_w, res_w, limits):
    """A loaded set: import once, then keep SPARES call children forked and waiting, forever.

    After loading, the holder runs only this loop: pass the turn on when the spare that had
    it took a request, fork replacements when the worker says "go" (after a call's answer
    has left, so the fork never competes with that call) or at once when a spare died
    unused, and report each child's exit status. It never runs user code again.

    It ends only when the worker lets go of the set (end of file on `go_r`): a child's exit
    status says nothing about that, since a call may end its process with any status.
    """
    child_setup([c2h_r, h2c_w, go_r, res_w], out_w)
    os.setpgid(0, 0)
    set_oom_score(500)
    die_with_parent(limits)
    if limits:
        apply_rlimits(limits)
    errors = install_functions(modules)
    flush_std()
    write_all(h2c_w, frame({"kind": "loaded", "errors": errors}))
    if "*" in errors:
        os._exit(0)
    if limits.get("nproc_extra"):  # (in a container `limits` stays empty: no rlimits, no death signal)
        limits = dict(limits, nproc=process_limit(limits))
    wake_r, wake_w = os.pipe()
    for fd in (go_r, wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    def spare_child(turn_r, took_w):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        close_fds_except({c2h_r, turn_r, res_w, took_w})  # not the other spares' pipes
        call_child(c2h_r, turn_r, res_w, took_w, errors, limits)

    spares = Spares(spare_child, lambda pid: write_all(h2c_w, frame({"kind": "spare", "pid": pid})))
    spares.fill()
    while True:
        try:
            ready = select.select([go_r, wake_r] + spares.watched(), [], [])[0]
        except InterruptedError:
            continue
        go = go_r in ready and read_ready(go_r)
        if go_r in ready and not go:
            os._exit(0)  # the worker let go of this set (its request pipe is closed too)
        if spares.watched() and spares.watched()[0] in ready and not spares.took():
            spares.fill()  # first pass the turn (the next request may be waiting), then refill
        if wake_r in ready:
            read_ready(wake_r)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
            write_all(h2c_w, frame({"kind": "done", "pid": pid, "status": status}))
            if spares.retire(pid):
                spares.fill()  # it died before it took a request: never leave the set short
        if go:
            spares.fill()
