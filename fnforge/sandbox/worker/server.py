"""The worker process: the request loop and start-up.

It takes over the protocol pipes, hardens itself (non-dumpable, signals ignored, no thread
pools for numeric libraries) and answers one request at a time: ping, load, call, proptest.
Every failure is answered as a value; the worker itself never runs user code. Its children
are kept in a `ProcessTable`, its loaded sets in `LoadedSets`; those get the table, never
the worker.
"""

import json
import os
import signal
import sys

from .loaded_sets import LoadedSets
from .process_table import ProcessTable
from .processes import apply_rlimits, set_dumpable
from .proptest_host import proptest
from .protocol import FrameReader, frame, write_all


class Worker:
    """The request loop: answers one request at a time; its children live in `table`, its
    loaded sets in `sets`."""

    def __init__(self, proto_in, proto_out, config):
        self.proto_in, self.proto_out = proto_in, proto_out
        contained = bool(config.get("contained")) and os.getpid() == 1 and os.getuid() != 0
        self.output_limit = int(config.get("output_limit", 65536))
        self.table = ProcessTable(contained, config.get("rlimits") or {})
        self.sets = LoadedSets(self.table, self.output_limit, self.reply)
        self.table.on_exit = self.sets.holder_exited  # a holder that exited takes its set with it
        self.requests = FrameReader(proto_in)

    def reply(self, obj):
        """Send one reply frame to the host."""
        write_all(self.proto_out, frame(obj))

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
                "contained": self.table.contained,
            }
        )

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
                        self.sets.load(req)
                    elif op == "call":
                        self.sets.call(req)
                    elif op == "proptest":
                        self.reply(proptest(req, self.table, self.output_limit, self.sets.sweep))
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
                    self.sets.sweep()
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
