"""The worker's side of loaded sets: fork a holder to load one, hand it calls, time them.

`load` forks a holder (see `holder`, and `holder_handle` for the worker's end of it) and
waits for its "loaded" message; sets are cached by content hash, evicted least recently
used or when memory is tight. `call` runs the holder's phases (discard stale output, send,
await the answer), then `classify` names the outcome: the child's result, or the wall
clock, the output limit or whatever ended a child that did not answer. Only after the
answer has left is the child killed, the container swept and the next spare forked.

What this needs of the worker is a `ProcessTable` (reap, kill, exit statuses), the output
limit, and the function that sends a reply; never the worker itself.
"""

import os
import signal
import time

from .holder_handle import CallInFlight, Ending, Holder
from .output import CapturedOutput
from .sweep import sweep

MAX_HOLDERS = 4

NOT_LOADED = {"type": "NotLoaded", "message": "load the set first"}


class LoadedSets:
    """The sets this worker holds, each by its content hash, and the calls into them."""

    def __init__(self, table, output_limit, reply):
        self.table = table  # a ProcessTable
        self.output_limit = output_limit
        self.reply = reply  # sends one reply frame to the host
        self.holders = {}

    # -- bookkeeping
    def reap(self):
        """Collect exited children (a holder that exited is forgotten, see `holder_exited`)."""
        self.table.reap()

    def holder_exited(self, pid):
        """Forget the set whose holder was `pid` (the process table calls this when it reaps)."""
        for key, h in list(self.holders.items()):
            if h.pid == pid:
                self.drop(key)

    def drop(self, key):
        """Forget a loaded set and kill its holder and spares."""
        holder = self.holders.pop(key, None)
        if holder is not None:
            self.table.kill(holder.pid)
            for pid in holder.spares:
                self.table.kill(pid)
            holder.close()

    def sweep(self, settle=False):
        """Remove what calls left behind (inside a container); see sweep.sweep."""
        sweep(self, settle)

    # -- load
    def load(self, req):
        """Fork a holder that imports the set (cached by content hash; LRU and memory eviction)."""
        key = req["set"]
        if key in self.holders:
            self.holders[key].used = time.monotonic()
            self.reply({"id": req["id"], "ok": True, "errors": {}, "stdout": ""})
            return
        while len(self.holders) >= MAX_HOLDERS or (self.holders and self.table.memory_tight()):
            self.drop(min(self.holders, key=lambda k: self.holders[k].used))
        oom_before = self.table.oom_count()
        holder = Holder.start(req["modules"], self.table.limits, self.reap)
        timeout = float(req.get("timeout", 10))
        deadline = time.monotonic() + timeout
        output = CapturedOutput(self.output_limit)
        holder.await_loaded(deadline, output)
        result = {"id": req["id"], "stdout": output.text()}
        result.update(self._loaded(key, holder, timeout, deadline, oom_before))
        self.reply(result)
        self.sweep(settle=True)

    def _loaded(self, key, holder, timeout, deadline, oom_before):
        """Keep a holder that loaded the set, or end it and say why it did not."""
        errors = holder.loaded.get("errors") if holder.loaded is not None else None
        if holder.loaded is not None and not (isinstance(errors, dict) and "*" in errors):
            self.holders[key] = holder
            return {"ok": True, "errors": errors if isinstance(errors, dict) else {}}
        self.table.kill(holder.pid)
        holder.close()
        if holder.loaded is not None:
            return {"ok": False, "error": errors["*"]}
        if time.monotonic() >= deadline:
            message = f"importing the function set did not finish within {timeout:g}s"
            return {"ok": False, "error": {"type": "Timeout", "message": message}}
        self.reap()
        err = self.table.crash_error(self.table.exited.get(holder.pid), oom_before, what="the import")
        err["message"] = "importing the function set: " + err["message"]
        return {"ok": False, "error": err}

    # -- call
    def call(self, req):
        """Hand one call to the set's spare child and enforce its wall clock and output limit."""
        started = time.monotonic()
        key = req["set"]
        holder = self.holders.get(key)
        if holder is None or not holder.alive:
            if holder is not None:
                self.drop(key)
            self.reply({"id": req["id"], "ok": False, "error": dict(NOT_LOADED)})
            return
        holder.used = started
        holder.discard_stale()
        call = CallInFlight(req, started, self.table.oom_count(), CapturedOutput(self.output_limit))
        holder.send(call)
        holder.await_answer(call)
        reply = {
            "id": call.id,
            "stdout": call.output.text(),
            "duration_s": round(time.monotonic() - started, 6),
        }
        reply.update(self.classify(key, holder, call))
        if not holder.alive:
            self.drop(key)
        self.reply(reply)
        self.finish(key, call)

    def classify(self, key, holder, call):
        """The answer's outcome: the child's value or error, or what cut the call short.

        `retryable: true` in the reply says that no child took the call (nothing of it ran).
        """
        if call.answered:
            if "error" in call.result:
                return {"ok": False, "error": call.result["error"]}
            return {"ok": True, "value_json": call.result.get("value_json", "null")}
        if call.child is not None and call.status is None:
            self.table.kill(call.child)
        if call.ending is Ending.TIMEOUT:
            if call.child is None:  # the holder never handed the request to a child: it is stuck
                self.drop(key)
                message = f"the call did not start within {call.timeout:g}s (its set's process was stuck)"
                error = {"type": "Timeout", "message": message + "; replaced it"}
                return {"ok": False, "error": error, "retryable": True}  # nothing ran: safe to repeat
            message = f"the call did not finish within {call.timeout:g}s; killed"
            return {"ok": False, "error": {"type": "Timeout", "message": message}}
        if call.ending is Ending.OUTPUT:
            message = f"the call printed more than {self.output_limit} bytes; killed"
            return {"ok": False, "error": {"type": "OutputLimit", "message": message}}
        if call.child is None:
            # The set's processes were gone before any child started this call (its "started"
            # comes before user code runs): nothing ran, so the host may load it and retry.
            holder.alive = False
            message = "the set's process ended before the call started"
            return {"ok": False, "error": {"type": "NotLoaded", "message": message}}
        return {"ok": False, "error": self.table.crash_error(call.status, call.oom_before)}

    def finish(self, key, call):
        """After the answer left: end the call's child, sweep, let the holder fork a spare."""
        if call.child is not None:
            # It answered; nothing of it may run on. Outside a container only its process
            # group is signalled (a reaped pid may already belong to someone else).
            if self.table.contained:
                self.table.kill(call.child)
                self.table.doomed.add(call.child)  # the sweep needs no second look at it
            else:
                try:
                    os.killpg(call.child, signal.SIGKILL)
                except OSError:
                    pass
        self.sweep()
        live = self.holders.get(key)
        if live is not None:
            live.let_fork()
