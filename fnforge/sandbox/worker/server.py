"""The worker process: the request loop, its children's bookkeeping, and start-up.

It takes over the protocol pipes, hardens itself (non-dumpable, signals ignored, no thread
pools for numeric libraries) and answers one request at a time: ping, load, call, proptest.
Every failure is answered as a value; the worker itself never runs user code.
"""

import json
import os
import select
import signal
import sys

from . import loaded_sets, proptest_host
from .processes import apply_rlimits, memory_use, oom_kills, set_dumpable
from .protocol import FrameReader, frame, write_all
from .sweep import sweep


class Worker:
    """The request loop; owns holders, enforces deadlines, cleans up after each call."""

    def __init__(self, proto_in, proto_out, config):
        self.proto_in, self.proto_out = proto_in, proto_out
        self.contained = bool(config.get("contained")) and os.getpid() == 1 and os.getuid() != 0
        self.limits = config.get("rlimits") or {}
        self.output_limit = int(config.get("output_limit", 65536))
        self.holders = {}
        self.exited = {}
        self.requests = FrameReader(proto_in)
        self.doomed = set()

    # -- plumbing
    def reply(self, obj):
        write_all(self.proto_out, frame(obj))

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
            for key, h in list(self.holders.items()):
                if h.pid == pid:
                    self.drop_holder(key)

    def kill(self, pid):
        """SIGKILL a process and its group; never the worker or PID 1."""
        if pid and pid > 1 and pid != os.getpid():
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass

    def drop_holder(self, key):
        """Forget a loaded set and kill its holder and spares."""
        holder = self.holders.pop(key, None)
        if holder is not None:
            self.kill(holder.pid)
            for pid in holder.spares:
                self.kill(pid)
            holder.close()

    def sweep(self, settle=False):
        """Remove what calls left behind (inside a container); see sweep.sweep."""
        sweep(self, settle)

    def memory_tight(self):
        """True when loaded sets already hold half the container's memory: evict before loading."""
        if not self.contained:
            return False
        use = memory_use()
        return bool(use and use[1] and use[0] > use[1] // 2)

    def drain(self, fd, buf):
        """Read what is in an output pipe now; False at end of file."""
        try:
            data = os.read(fd, 1 << 16)
        except (BlockingIOError, OSError):
            return True
        if not data:
            return False
        if len(buf) <= self.output_limit:
            buf += data[: self.output_limit + 1 - len(buf)]
        return True

    def drain_all(self, fd, buf):
        while len(buf) <= self.output_limit and select.select([fd], [], [], 0)[0]:
            if not self.drain(fd, buf):
                return

    # -- requests
    def ping(self, req):
        """Liveness and identity: pid, uid, Python version, whether the sweep is active."""
        self.reply(
            {
                "id": req["id"],
                "ok": True,
                "pid": os.getpid(),
                "uid": os.getuid(),
                "python": sys.version.split()[0],
                "contained": self.contained,
            }
        )

    def crash_error(self, status, oom_before=-1):
        """Name what ended a child that did not answer: the memory limit, a signal, an exit."""
        oom_now = oom_kills() if self.contained else -1
        if oom_before >= 0 and oom_now > oom_before:
            return {
                "type": "MemoryLimit",
                "message": "the call went over the sandbox memory limit and was killed",
            }
        if status is None:
            return {
                "type": "Crashed",
                "message": "the call's process died without returning (its parent was killed)",
            }
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            if sig == signal.SIGXCPU:
                return {"type": "Timeout", "message": "the call used up its CPU time limit"}
            if sig == signal.SIGKILL and self.limits.get("as_bytes"):
                return {
                    "type": "MemoryLimit",
                    "message": "the call was killed (SIGKILL), most likely over the memory limit",
                }
            return {"type": "Crashed", "message": f"the call's process was killed by {name}"}
        return {
            "type": "Crashed",
            "message": f"the call's process exited with status {os.WEXITSTATUS(status)} without returning",
        }

    def serve(self):
        """The request loop: one request at a time, every failure answered as a value."""
        while True:
            got = self.requests.frames()
            if not got:
                if not self.requests.feed():
                    return
                continue
            for req in got:
                op = req.get("op")
                try:
                    if op == "ping":
                        self.ping(req)
                    elif op == "load":
                        loaded_sets.load(self, req)
                    elif op == "call":
                        loaded_sets.call(self, req)
                    elif op == "proptest":
                        proptest_host.proptest(self, req)
                    else:
                        self.reply(
                            {
                                "id": req.get("id"),
                                "ok": False,
                                "error": {"type": "BadRequest", "message": f"unknown op {op!r}"},
                            }
                        )
                except (TimeoutError, BrokenPipeError):
                    return
                except Exception as e:  # noqa: BLE001 - a worker bug is reported, the loop goes on
                    self.sweep()
                    self.reply(
                        {
                            "id": req.get("id"),
                            "ok": False,
                            "error": {"type": "WorkerError", "message": f"{type(e).__name__}: {e}"},
                        }
                    )


def main(argv):
    """Take over the protocol pipes, harden this process, and serve requests until EOF."""
    config = json.loads(argv[1]) if len(argv) > 1 else {}
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    # Move the protocol pipes high, away from anything user code might guess.
    pin = os.dup2(proto_in, 901)
    pout = os.dup2(proto_out, 902)
    os.close(proto_in)
    os.close(proto_out)
    set_dumpable(False)
    # Numeric libraries must not start thread pools at import: a holder keeps no threads.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    if config.get("rlimits", {}).get("worker_as_bytes"):
        apply_rlimits({"as_bytes": config["rlimits"]["worker_as_bytes"]})
    Worker(pin, pout, config).serve()
