"""The worker's side of loaded sets: fork a holder to load one, hand it calls, time them.

`load` forks a holder (see `holder`) and waits for its "loaded" message; sets are cached by
content hash, evicted least recently used or when memory is tight. `call` writes the request
to the set's spare call child, enforces the wall clock and the output limit with SIGKILL,
and names whatever ended a child that did not answer.
"""

import json
import os
import select
import signal
import time

from .holder import SPARES, holder_main
from .processes import fork, oom_kills
from .protocol import FrameReader, frame, write_all

MAX_HOLDERS = 4


class Holder:
    """The worker's handle on one loaded set's child and its announced spare call children."""

    def __init__(self, pid, to_fd, ctrl, out_fd, res, go_fd):
        self.pid, self.to_fd, self.ctrl, self.out_fd, self.res = pid, to_fd, ctrl, out_fd, res
        self.go_fd = go_fd
        self.used = time.monotonic()
        self.spares = set()
        self.used_children = set()
        self.statuses = {}
        self.alive = True
        self.loaded = None

    def note(self, messages):
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
        if not self.ctrl.feed():
            self.alive = False
        self.note(self.ctrl.frames())
        return True

    def close(self):
        for fd in (self.to_fd, self.ctrl.fd, self.out_fd, self.res.fd, self.go_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def load(worker, req):
    """Fork a holder that imports the set (cached by content hash; LRU and memory eviction)."""
    key = req["set"]
    if key in worker.holders:
        worker.holders[key].used = time.monotonic()
        worker.reply({"id": req["id"], "ok": True, "errors": {}, "stdout": ""})
        return
    while len(worker.holders) >= MAX_HOLDERS or (worker.holders and worker.memory_tight()):
        worker.drop_holder(min(worker.holders, key=lambda k: worker.holders[k].used))
    oom_before = oom_kills() if worker.contained else -1
    c2h_r, c2h_w = os.pipe()
    h2c_r, h2c_w = os.pipe()
    go_r, go_w = os.pipe()
    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    try:
        pid = fork(worker.reap)
    except OSError:
        for fd in (c2h_r, c2h_w, h2c_r, h2c_w, go_r, go_w, out_r, out_w, res_r, res_w):
            os.close(fd)
        raise
    if pid == 0:
        try:
            holder_main(req["modules"], c2h_r, h2c_w, go_r, out_w, res_w, worker.limits)
        finally:
            os._exit(70)
    for fd in (c2h_r, h2c_w, go_r, out_w, res_w):
        os.close(fd)
    os.set_blocking(out_r, False)
    os.set_blocking(go_w, False)
    holder = Holder(pid, c2h_w, FrameReader(h2c_r), out_r, FrameReader(res_r), go_w)
    timeout = float(req.get("timeout", 10))
    deadline = time.monotonic() + timeout
    out = bytearray()
    while holder.loaded is None and holder.alive and time.monotonic() < deadline:
        ready = select.select([h2c_r, out_r], [], [], max(0.0, deadline - time.monotonic()))[0]
        if out_r in ready:
            worker.drain(out_r, out)
        if h2c_r in ready:
            if not holder.ctrl.feed():
                holder.alive = False
            holder.note(holder.ctrl.frames())
    if holder.loaded is not None:
        worker.drain_all(out_r, out)
    stdout = out[: worker.output_limit].decode("utf-8", "replace")
    errors = holder.loaded.get("errors") if holder.loaded is not None else None
    if isinstance(errors, dict) and "*" in errors:
        worker.kill(pid)
        holder.close()
        result = {"id": req["id"], "ok": False, "error": errors["*"], "stdout": stdout}
    elif holder.loaded is None:
        worker.kill(pid)
        holder.close()
        if time.monotonic() >= deadline:
            err = {
                "type": "Timeout",
                "message": f"importing the function set did not finish within {timeout:g}s",
            }
        else:
            worker.reap()
            err = worker.crash_error(worker.exited.get(pid), oom_before)
            err["message"] = "importing the function set: " + err["message"].replace("the call", "the import")
        result = {"id": req["id"], "ok": False, "error": err, "stdout": stdout}
    else:
        worker.holders[key] = holder
        result = {
            "id": req["id"],
            "ok": True,
            "errors": errors if isinstance(errors, dict) else {},
            "stdout": stdout,
        }
    worker.reply(result)
    worker.sweep(settle=True)


def call(worker, req):
    """Hand one call to the set's spare child and enforce its wall clock and output limit."""
    started = time.monotonic()
    holder = worker.holders.get(req["set"])
    if holder is None or not holder.alive:
        if holder is not None:
            worker.drop_holder(req["set"])
        worker.reply(
            {"id": req["id"], "ok": False, "error": {"type": "NotLoaded", "message": "load the set first"}}
        )
        return
    holder.used = started
    # Whatever an earlier call's child wrote after its answer belongs to no one.
    for _ in range(64):
        if not select.select([holder.out_fd], [], [], 0)[0] or not worker.drain(holder.out_fd, bytearray()):
            break
    for _ in range(64):
        if not select.select([holder.res.fd], [], [], 0)[0] or not holder.res.feed():
            break
        holder.res.frames()
    oom_before = oom_kills() if worker.contained else -1
    timeout = float(req.get("timeout", 5))
    deadline = started + timeout
    msg = {"id": req["id"], "name": req["name"], "args": json.dumps(req.get("args", {})), "timeout": timeout}
    out = bytearray()
    result = child = status = why = None
    try:
        write_all(holder.to_fd, frame(msg), deadline)
    except TimeoutError:
        why = "timeout"
    except OSError:  # no process reads the set's request pipe: its holder and spares are gone
        why = "crashed"
    while result is None and why is None:
        left = deadline - time.monotonic()
        if left <= 0:
            why = "timeout"
            break
        fds = [holder.out_fd, holder.res.fd] + ([holder.ctrl.fd] if holder.alive else [])
        ready = select.select(fds, [], [], left)[0]
        if holder.out_fd in ready:
            worker.drain(holder.out_fd, out)
            if len(out) > worker.output_limit:
                why = "output"
        if holder.res.fd in ready:
            if not holder.res.feed():
                why = why or "crashed"
            for m in holder.res.frames():
                if m.get("id") != req["id"]:
                    continue
                if m.get("kind") == "started":
                    child = m.get("pid")
                    holder.used_children.add(child)
                    if len(holder.used_children) > 64:
                        holder.used_children = {child}
                    holder.spares.discard(child)  # used up; the holder forks a replacement
                elif m.get("kind") == "result":
                    result = m
        if holder.alive and holder.ctrl.fd in ready:
            if not holder.ctrl.feed():
                holder.alive = False
            holder.note(holder.ctrl.frames())
        if result is None and child is not None and child in holder.statuses:
            # The child has exited: whatever it wrote is in the pipes now.
            status = holder.statuses[child]
            while select.select([holder.res.fd], [], [], 0)[0] and holder.res.feed():
                pass
            for m in holder.res.frames():
                if m.get("id") == req["id"] and m.get("kind") == "result":
                    result = m
            if result is None:
                why = "crashed"
    if why != "output":
        worker.drain_all(holder.out_fd, out)
        if len(out) > worker.output_limit and result is not None:
            why = "output"
    stdout = out[: worker.output_limit].decode("utf-8", "replace")
    reply = {"id": req["id"], "stdout": stdout, "duration_s": round(time.monotonic() - started, 6)}
    if why is None and result is not None:
        if "error" in result:
            reply.update(ok=False, error=result["error"])
        else:
            reply.update(ok=True, value_json=result.get("value_json", "null"))
    else:
        if child is not None and status is None:
            worker.kill(child)
        if why == "timeout":
            if child is None:  # the holder never handed the request to a child: it is stuck
                worker.drop_holder(req["set"])
                error = {
                    "type": "Timeout",
                    "message": f"the call did not start within {timeout:g}s (its set's process was stuck); "
                    "replaced it",
                }
            else:
                error = {"type": "Timeout", "message": f"the call did not finish within {timeout:g}s; killed"}
        elif why == "output":
            error = {
                "type": "OutputLimit",
                "message": f"the call printed more than {worker.output_limit} bytes; killed",
            }
        elif child is None:
            # The set's processes were gone before any child started this call (its "started"
            # comes before user code runs): nothing ran, so the host may load it and retry.
            holder.alive = False
            error = {"type": "NotLoaded", "message": "the set's process ended before the call started"}
        else:
            error = worker.crash_error(status, oom_before)
        reply.update(ok=False, error=error)
    if not holder.alive:
        worker.drop_holder(req["set"])
    worker.reply(reply)
    if child is not None:
        # It answered; nothing of it may run on. Outside a container only its process
        # group is signalled (a reaped pid may already belong to someone else).
        if worker.contained:
            worker.kill(child)
            worker.doomed.add(child)  # the sweep needs no second look at it
        else:
            try:
                os.killpg(child, signal.SIGKILL)
            except OSError:
                pass
    worker.sweep()
    live = worker.holders.get(req["set"])
    if live is not None:  # the answer has left: now the holder may fork the next spare
        try:
            os.write(live.go_fd, b"g")
        except OSError:
            pass
