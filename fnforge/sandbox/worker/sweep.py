"""The sweep: inside a container, nothing a call started outlives its answer.

After every request the worker (PID 1 of its container) kills each process that is not
itself, a holder, or a holder's announced spare: daemons that double-forked away, a fork
bomb, a child stuck in a signal handler after it answered.
"""

import os
import signal
import time

from .holder import SPARES


def sweep(sets, settle=False):
    """Inside a container: kill every process that is not the worker, a holder or its spares.

    That removes whatever a call left behind: daemons that double-forked away, a fork
    bomb, a call child stuck in a signal handler after it answered. A holder runs no user
    code after loading (it may not keep threads), so an unannounced child of it is a spare
    it is forking right now, up to SPARES in all; after a load (`settle`) the sweep first
    waits for the announcements and then keeps only announced spares, so nothing a
    module's import forked survives. `sets` is the worker's `LoadedSets` (its holders and
    its process table).
    """
    table = sets.table
    sets.reap()
    if not table.contained:
        return
    for key, h in list(sets.holders.items()):
        if settle:
            h.settle()
        elif h.alive:
            h.listen()
        if not h.alive:
            sets.drop(key)
    holders = {h.pid: h for h in sets.holders.values()}
    for attempt in range(6):
        strays, spares = [], {}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == 1 or int(name) in holders:
                continue
            pid = int(name)
            state, ppid = _state(pid)
            if state in ("Z", "X", ""):
                continue
            h = holders.get(ppid)
            if h is not None and pid not in h.used_children:
                spares.setdefault(ppid, []).append(pid)
            else:
                strays.append(pid)
        for ppid, pids in spares.items():
            strays.extend(impostors(pids, holders[ppid].spares, 0 if settle else SPARES))
        fresh = [p for p in strays if p not in table.doomed]
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        table.doomed.update(strays)
        if not fresh:
            break  # only processes already sent SIGKILL: they are dying, nothing forks
        time.sleep(0.0005 * (attempt + 1))
        sets.reap()
    else:
        # Something keeps forking: signal everything but PID 1 at once, holders included.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        for key in list(sets.holders):
            sets.drop(key)
        limit = time.monotonic() + 2.0
        while time.monotonic() < limit:
            sets.reap()
            alive = [
                p
                for p in os.listdir("/proc")
                if p.isdigit() and int(p) != 1 and _state(int(p))[0] not in ("Z", "X", "")
            ]
            if not alive:
                break
            time.sleep(0.005)
    sets.reap()
    if len(table.doomed) > 4096:
        table.doomed = set()


def impostors(children, announced, room):
    """A holder's unused children that are not its spares: every one beyond its announced
    spares, except (when `room` allows, i.e. not right after a load) forks in flight that
    keep the total within `room`."""
    kept = [p for p in children if p in announced]
    pending = sorted(p for p in children if p not in announced)
    allowed = max(0, room - len(kept))
    return pending[allowed:]


def _state(pid):
    """(state letter, parent pid) of a process, ("", 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[1])
    except (OSError, IndexError, ValueError):
        return "", 0
