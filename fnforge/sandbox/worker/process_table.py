"""The worker's table of its children: their exit statuses, the doomed, and what ended one.

The worker forks holders (which fork call children) and property-test children. This small
object is all that the code following those children needs of the worker: reap and remember
exit statuses, kill a process and its group, remember who was already sent SIGKILL, tell
whether memory is tight, and name what ended a child that did not answer.
"""

import os
import signal

from .processes import memory_use, oom_kills


class ProcessTable:
    """What the worker knows of its children, and the power to end them."""

    def __init__(self, contained, limits):
        self.contained = contained  # PID 1 of a container: the sweep and the oom count apply
        self.limits = limits  # the process backend's rlimits (empty in a container)
        self.exited = {}  # pid -> wait status, the most recent ones
        self.doomed = set()  # pids already sent SIGKILL: the sweep needs no second look at them
        self.on_exit = None  # called with every reaped pid (the loaded sets forget a dead holder)

    def reap(self):
        """Collect exited children (and orphans, as PID 1) without blocking."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exited[pid] = status
            if len(self.exited) > 256:
                self.exited = dict(list(self.exited.items())[-64:])
            if self.on_exit is not None:
                self.on_exit(pid)

    def kill(self, pid):
        """SIGKILL a process and its group; never the worker or PID 1."""
        if pid and pid > 1 and pid != os.getpid():
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass

    def oom_count(self):
        """How many processes the memory limit killed so far (-1 outside a container)."""
        return oom_kills() if self.contained else -1

    def memory_tight(self):
        """True when loaded sets already hold half the container's memory: evict before loading."""
        if not self.contained:
            return False
        use = memory_use()
        return bool(use and use[1] and use[0] > use[1] // 2)

    def crash_error(self, status, oom_before=-1, what="the call"):
        """Name what ended a child that did not answer: the memory limit, a signal, an exit.

        `what` is the work the child was doing ("the call", "the import"), as the message says it.
        """
        oom_now = self.oom_count()
        if oom_before >= 0 and oom_now > oom_before:
            return {
                "type": "MemoryLimit",
                "message": f"{what} went over the sandbox memory limit and was killed",
            }
        if status is None:
            return {
                "type": "Crashed",
                "message": f"{what}'s process died without returning (its parent was killed)",
            }
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            if sig == signal.SIGXCPU:
                return {"type": "Timeout", "message": f"{what} used up its CPU time limit"}
            if sig == signal.SIGKILL and self.limits.get("as_bytes"):
                return {
                    "type": "MemoryLimit",
                    "message": f"{what} was killed (SIGKILL), most likely over the memory limit",
                }
            return {"type": "Crashed", "message": f"{what}'s process was killed by {name}"}
        return {
            "type": "Crashed",
            "message": f"{what}'s process exited with status {os.WEXITSTATUS(status)} without returning",
        }
