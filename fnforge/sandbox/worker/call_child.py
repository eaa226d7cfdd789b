"""The call child: one forked process per call, which runs one function and reports once.

A holder keeps spares of these forked and waiting (see `holder`). Each serves exactly one
request, so nothing a call does (monkeypatching, leaked state, a crash) reaches the next.
The return value must cross as JSON: checked here without trusting the value's own methods.
"""

import builtins
import json
import math
import os
import sys

from .processes import apply_rlimits, die_with_parent, limit_processes, set_oom_score
from .protocol import ENCODE, FrameReader, frame, read_frame_blocking, write_all

MAX_DEPTH = 64
RESULT_LIMIT = 4 * 1024 * 1024

# Captured before any user code runs (see protocol.py).
_EXIT = os._exit
_ISFINITE = math.isfinite


def json_check(value):
    """Why `value` cannot cross as JSON, or None when it can."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if item is None or isinstance(item, (bool, int, str)):
            continue
        if isinstance(item, float):
            if not _ISFINITE(item):
                return f"contains {item!r}, which JSON cannot carry; return a finite number or None"
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
            continue
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    return f"has a dict key of type {type(k).__name__}; JSON keys are strings"
                stack.append((v, depth + 1))
            continue
        return f"contains a {type(item).__name__}; return None, bool, int, float, str, list or dict"
    return None


def encode_result(value):
    """(json text, None) or (None, error) for a function's return value."""
    problem = json_check(value)
    if problem:
        return None, {"type": "NotJSON", "message": "the return value " + problem}
    try:
        text = ENCODE(value)
    except (ValueError, TypeError, RecursionError) as e:
        return None, {"type": "NotJSON", "message": f"the return value cannot be written as JSON: {e}"}
    if len(text) > RESULT_LIMIT:
        return None, {
            "type": "OutputLimit",
            "message": f"the return value is {len(text)} bytes of JSON; the limit is {RESULT_LIMIT}",
        }
    return text, None


def error_of(exc):
    """The error value for an exception a function raised; MemoryError names the limit."""
    if isinstance(exc, MemoryError):
        return {"type": "MemoryLimit", "message": "MemoryError: the call ran out of memory"}
    message = str(exc)
    return {"type": type(exc).__name__, "message": message[:4000]}


def flush_std():
    """Push buffered prints into the capture pipe before the result is written."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


def warm_up():
    """Walk the call path once with dummy data while idle: the copy-on-write page faults a
    fresh fork pays on first touch then happen before a request, not during it."""
    FrameReader(-1).frames()
    json.loads('{"id":0,"name":"x","args":"{\\"a\\":1}","timeout":1.0}')
    json.loads("{}")
    frame({"kind": "started", "id": 0, "pid": 0})
    text, _ = encode_result([0, 1.5, "x", None, {"k": True}])
    frame({"kind": "result", "id": 0, "value_json": text})
    pristine = dict(builtins.__dict__)
    builtins.__dict__.update(pristine)
    flush_std()


def call_child(c2h_r, turn_r, res_w, took_w, load_errors, limits):
    """A spare child of the holder: wait for one request, call one function, write one result.

    The holder forks spares *before* requests arrive, so no fork sits on the critical path
    of a call. Several spares may wait at once, but only the one the holder has given the
    turn (a byte on its private `turn_r`) reads the request pipe, so no two read parts of
    one frame. Having read its request it tells the holder on its private `took_w` (the
    holder passes the turn on), serves exactly that one request and exits.
    """
    os.setsid()
    set_oom_score(1000)
    die_with_parent(limits)
    limit_processes(limits.get("nproc"))
    warm_up()
    if not os.read(turn_r, 1):
        os._exit(0)  # the holder is gone
    req, _ = read_frame_blocking(c2h_r)
    if req is None:
        # The worker closed the set. Its holder learns that from its own "go" pipe, never
        # from this exit status: user code chooses its exit status too (os._exit(n)).
        os._exit(0)
    os.close(c2h_r)
    os.close(turn_r)
    os.write(took_w, b"t")
    os.close(took_w)
    write_all(res_w, frame({"kind": "started", "id": req["id"], "pid": os.getpid()}))
    apply_rlimits(limits, req.get("timeout"))
    name = req["name"]
    reply = {"kind": "result", "id": req["id"]}
    pristine = dict(builtins.__dict__)
    returned = False
    value = None
    try:
        if name in load_errors:
            reply["error"] = load_errors[name]
        else:
            module = sys.modules.get("functions." + name)
            fn = getattr(module, name, None) if module is not None else None
            if not callable(fn):
                reply["error"] = {"type": "NameError", "message": f"no function {name!r} in the set"}
            else:
                value = fn(**json.loads(req["args"]))
                returned = True
    except BaseException as e:  # noqa: BLE001 - every failure becomes a value
        reply["error"] = error_of(e)
    builtins.__dict__.clear()
    builtins.__dict__.update(pristine)
    if returned:
        try:
            text, err = encode_result(value)
        except BaseException as e:  # noqa: BLE001 - e.g. a __eq__ or __iter__ that raises
            text, err = (
                None,
                {
                    "type": "NotJSON",
                    "message": f"the return value cannot be written as JSON: {type(e).__name__}",
                },
            )
        if err:
            reply["error"] = err
        else:
            reply["value_json"] = text
    flush_std()
    try:
        write_all(res_w, frame(reply))
    finally:
        _EXIT(0)
