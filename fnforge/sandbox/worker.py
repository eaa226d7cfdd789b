"""The sandbox worker: a stdlib-only program that runs untrusted functions in forked children.

It runs inside the container (as PID 1) or, for the process backend, as a local subprocess.
The host talks to it with length-prefixed JSON frames on the worker's original stdin and
stdout; at start the worker moves those pipes to private descriptors and points 0, 1 and 2
at /dev/null, so nothing user code prints can forge a reply.

The worker itself never runs user code. Three kinds of forked children do:
- a *holder* per loaded function set: it imports the set's modules once (a synthetic
  `functions` package), then forks a fresh *call child* for every call, so a call that
  monkeypatches a module, loops forever or crashes poisons nothing that follows;
- a *property-test child* per `proptest` request (it runs the runner source the host sends).
The worker enforces the wall clock with SIGKILL (no in-process alarm is trusted), bounds
captured output, and when it is PID 1 of a container it removes every process a call left
behind (daemons, fork bombs) before the next request.
Requests: ping, load, call, proptest. Replies carry the request's id.
"""

import importlib.abc
import importlib.util
import json
import linecache
import math
import os
import resource
import select
import signal
import struct
import sys
import time

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
MAX_HOLDERS = 4
MAX_DEPTH = 64
RESULT_LIMIT = 4 * 1024 * 1024


# ---------------------------------------------------------------- framing


def frame(obj):
    """One protocol frame: a 4-byte big-endian length and compact JSON."""
    data = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    return HEADER.pack(len(data)) + data


def write_all(fd, data, deadline=None):
    """Write every byte, waiting for the pipe to drain until `deadline` (monotonic)."""
    view = memoryview(data)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError("peer stopped reading")
        n = os.write(fd, view[: 1 << 16])
        view = view[n:]


class FrameReader:
    """Accumulates bytes from one descriptor and yields complete frames."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.eof = False

    def feed(self):
        """Read what is there (call when select says readable); False at end of file."""
        try:
            data = os.read(self.fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def frames(self):
        """Complete frames received so far (a malformed frame ends the stream)."""
        out = []
        while len(self.buf) >= 4:
            (size,) = HEADER.unpack_from(self.buf)
            if size > MAX_FRAME:
                self.eof = True
                self.buf.clear()
                break
            if len(self.buf) < 4 + size:
                break
            body = bytes(self.buf[4 : 4 + size])
            del self.buf[: 4 + size]
            try:
                out.append(json.loads(body))
            except ValueError:
                self.eof = True
        return out


def read_frame_blocking(fd):
    """The next frame from `fd`, or None at end of file."""
    reader = FrameReader(fd)
    while True:
        got = reader.frames()
        if got:
            return got[0], reader
        if not reader.feed():
            return None, reader


# ---------------------------------------------------------------- process helpers


def close_fds_except(keep):
    """Close every descriptor above 2 that is not in `keep`."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def set_dumpable(flag):
    """PR_SET_DUMPABLE: a non-dumpable worker's /proc/<pid>/fd is closed to its children."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 1 if flag else 0, 0, 0, 0)
    except Exception:
        pass


def die_with_parent(limits):
    """Process backend: no container to kill, so a child dies when its parent does."""
    if limits:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
        except Exception:
            pass


def set_oom_score(value):
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError:
        pass


def oom_kills():
    """How many processes the container's memory limit has killed so far (-1 when unknown)."""
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            continue
    return -1


def apply_rlimits(limits, cpu_s=None):
    """Process backend: the kernel limits that stand in for the container's cgroup."""
    pairs = [(resource.RLIMIT_AS, limits.get("as_bytes")), (resource.RLIMIT_FSIZE, limits.get("fsize_bytes"))]
    if cpu_s:
        pairs.append((resource.RLIMIT_CPU, int(math.ceil(cpu_s)) + 1))
    for which, value in pairs:
        if value:
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass


def child_setup(keep, out_w):
    """First steps of every forked child: drop the worker's descriptors, capture output."""
    close_fds_except(set(keep) | {out_w})
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    if out_w not in keep:
        os.close(out_w)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    set_dumpable(True)


# ---------------------------------------------------------------- the function set inside a child


class FunctionSet(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves `functions` (a package with no files) and `functions.<name>` from sources."""

    def __init__(self, modules):
        self.modules = dict(modules)

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "functions":
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        if fullname.startswith("functions.") and fullname[10:] in self.modules:
            return importlib.util.spec_from_loader(fullname, self, origin="functions/" + fullname[10:] + ".py")
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ == "functions":
            module.__path__ = []
            return
        name = module.__name__[10:]
        filename = "functions/" + name + ".py"
        source = self.modules[name]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)


def install_functions(modules):
    """Make the set importable and import every module; return {name: error} for failures."""
    finder = FunctionSet(modules)
    sys.meta_path.insert(0, finder)
    errors = {}
    for name in sorted(modules):
        try:
            importlib.import_module("functions." + name)
        except BaseException as e:  # noqa: BLE001 - a module's failure is reported, not raised
            errors[name] = {"type": type(e).__name__, "message": "functions/%s.py failed to load: %s" % (name, e)}
    return errors


def json_check(value):
    """Why `value` cannot cross as JSON, or None when it can."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return "nested deeper than %d levels" % MAX_DEPTH
        if item is None or isinstance(item, (bool, int, str)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return "contains %r, which JSON cannot carry; return a finite number or None" % item
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
            continue
        if isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, str):
                    return "has a dict key of type %s; JSON keys are strings" % type(k).__name__
                stack.append((v, depth + 1))
            continue
        return "contains a %s; return None, bool, int, float, str, list or dict" % type(item).__name__
    return None


def encode_result(value):
    """(json text, None) or (None, error) for a function's return value."""
    problem = json_check(value)
    if problem:
        return None, {"type": "NotJSON", "message": "the return value " + problem}
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError) as e:
        return None, {"type": "NotJSON", "message": "the return value cannot be written as JSON: %s" % e}
    if len(text) > RESULT_LIMIT:
        return None, {"type": "OutputLimit", "message": "the return value is %d bytes of JSON; the limit is %d" % (len(text), RESULT_LIMIT)}
    return text, None


def error_of(exc):
    if isinstance(exc, MemoryError):
        return {"type": "MemoryLimit", "message": "MemoryError: the call ran out of memory"}
    message = str(exc)
    return {"type": type(exc).__name__, "message": message[:4000]}


def flush_std():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


def call_child(req, res_w, load_errors, limits):
    """Runs in a fresh child of the holder: call one function, write one result frame."""
    os.setsid()
    set_oom_score(1000)
    die_with_parent(limits)
    apply_rlimits(limits, req.get("timeout"))
    name = req["name"]
    reply = {"kind": "result", "id": req["id"]}
    try:
        if name in load_errors:
            reply["error"] = load_errors[name]
        else:
            module = sys.modules.get("functions." + name)
            fn = getattr(module, name, None) if module is not None else None
            if not callable(fn):
                reply["error"] = {"type": "NameError", "message": "no function %r in the set" % name}
            else:
                value = fn(**json.loads(req["args"]))
                text, err = encode_result(value)
                if err:
                    reply["error"] = err
                else:
                    reply["value_json"] = text
    except BaseException as e:  # noqa: BLE001 - every failure becomes a value
        reply["error"] = error_of(e)
    flush_std()
    try:
        write_all(res_w, frame(reply))
    finally:
        os._exit(0)


def holder_main(modules, c2h_r, h2c_w, out_w, res_w, limits):
    """A loaded set: import once, then fork one call child per request, forever."""
    child_setup([c2h_r, h2c_w, res_w], out_w)
    os.setpgid(0, 0)
    set_oom_score(500)
    die_with_parent(limits)
    if limits:
        apply_rlimits(limits)
    errors = install_functions(modules)
    flush_std()
    write_all(h2c_w, frame({"kind": "loaded", "errors": errors}))
    reader = FrameReader(c2h_r)
    while True:
        got = reader.frames()
        if not got:
            if not reader.feed():
                os._exit(0)
            continue
        for req in got:
            pid = os.fork()
            if pid == 0:
                os.close(c2h_r)
                os.close(h2c_w)
                call_child(req, res_w, errors, limits)
            write_all(h2c_w, frame({"kind": "started", "id": req["id"], "pid": pid}))
            while True:
                try:
                    _, status = os.waitpid(pid, 0)
                    break
                except ChildProcessError:
                    status = 0
                    break
                except InterruptedError:
                    continue
            write_all(h2c_w, frame({"kind": "done", "id": req["id"], "status": status}))


def proptest_child(req, modules, res_w, limits):
    """Runs in a fresh child of the worker: import the set and the runner, report properties."""
    os.setsid()
    set_oom_score(1000)
    die_with_parent(limits)
    if limits:
        apply_rlimits(limits)
    try:
        install_errors = install_functions(modules)
        runner = {"__name__": "fnforge_proptest"}
        exec(compile(req["runner"], "fnforge_proptest.py", "exec"), runner)

        def emit(obj):
            write_all(res_w, frame(obj))

        report = runner["run"](
            modules=modules, tests=req.get("tests", {}), changed=req.get("changed", []),
            examples=req.get("examples", 30), call_timeout=req.get("call_timeout", 5.0),
            load_errors=install_errors, emit=emit,
        )
        flush_std()
        emit({"kind": "report", "report": report})
    except BaseException as e:  # noqa: BLE001
        flush_std()
        write_all(res_w, frame({"kind": "report", "error": error_of(e)}))
    os._exit(0)


# ---------------------------------------------------------------- the worker process


class Holder:
    """The worker's handle on one loaded set's child."""

    def __init__(self, pid, to_fd, ctrl, out_fd, res):
        self.pid, self.to_fd, self.ctrl, self.out_fd, self.res = pid, to_fd, ctrl, out_fd, res
        self.used = time.monotonic()

    def close(self):
        for fd in (self.to_fd, self.ctrl.fd, self.out_fd, self.res.fd):
            try:
                os.close(fd)
            except OSError:
                pass


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

    # -- plumbing
    def reply(self, obj):
        write_all(self.proto_out, frame(obj))

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exited[pid] = status
            for key, h in list(self.holders.items()):
                if h.pid == pid:
                    h.close()
                    del self.holders[key]

    def kill(self, pid):
        if pid and pid > 1 and pid != os.getpid():
            for target in (-pid, pid):
                try:
                    os.kill(target, signal.SIGKILL)
                except OSError:
                    pass

    def sweep(self):
        """Inside a container: kill every process that is not the worker or a live holder."""
        if not self.contained:
            self.reap()
            return
        keep = {1} | {h.pid for h in self.holders.values()}
        for attempt in range(3):
            strays = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in keep]
            strays = [p for p in strays if not _is_zombie(p)]
            if not strays:
                break
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.001 * (attempt + 1))
            self.reap()
        else:
            # Something keeps forking: signal everything but PID 1 at once, holders included.
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            time.sleep(0.01)
        self.reap()

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

    # -- requests
    def ping(self, req):
        self.reply({"id": req["id"], "ok": True, "pid": os.getpid(), "uid": os.getuid(),
                    "python": sys.version.split()[0], "contained": self.contained})

    def load(self, req, quiet=False):
        key = req["set"]
        if key in self.holders:
            self.holders[key].used = time.monotonic()
            if not quiet:
                self.reply({"id": req["id"], "ok": True, "errors": {}, "stdout": ""})
            return None
        while len(self.holders) >= MAX_HOLDERS:
            old_key = min(self.holders, key=lambda k: self.holders[k].used)
            old = self.holders.pop(old_key)
            self.kill(old.pid)
            old.close()
        c2h_r, c2h_w = os.pipe()
        h2c_r, h2c_w = os.pipe()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                holder_main(req["modules"], c2h_r, h2c_w, out_w, res_w, self.limits)
            finally:
                os._exit(70)
        for fd in (c2h_r, h2c_w, out_w, res_w):
            os.close(fd)
        os.set_blocking(out_r, False)
        holder = Holder(pid, c2h_w, FrameReader(h2c_r), out_r, FrameReader(res_r))
        deadline = time.monotonic() + float(req.get("timeout", 10))
        out = bytearray()
        loaded = None
        while loaded is None and time.monotonic() < deadline:
            ready = select.select([h2c_r, out_r], [], [], max(0.0, deadline - time.monotonic()))[0]
            if out_r in ready:
                self.drain(out_r, out)
            if h2c_r in ready:
                if not holder.ctrl.feed():
                    break
                for msg in holder.ctrl.frames():
                    if msg.get("kind") == "loaded":
                        loaded = msg
        while self.drain(out_r, out) and len(out) <= self.output_limit and loaded is not None:
            if not select.select([out_r], [], [], 0)[0]:
                break
        stdout = out[: self.output_limit].decode("utf-8", "replace")
        if loaded is None:
            timed_out = time.monotonic() >= deadline
            self.kill(pid)
            holder.close()
            self.sweep()
            err = {"type": "Timeout", "message": "importing the function set did not finish within %gs" % float(req.get("timeout", 10))} if timed_out else {"type": "Crashed", "message": "the process importing the function set died"}
            result = {"id": req["id"], "ok": False, "error": err, "stdout": stdout}
        else:
            self.holders[key] = holder
            errors = loaded.get("errors") if isinstance(loaded.get("errors"), dict) else {}
            result = {"id": req["id"], "ok": True, "errors": errors, "stdout": stdout}
            self.sweep()
        if not quiet:
            self.reply(result)
        return result

    def call(self, req):
        started = time.monotonic()
        holder = self.holders.get(req["set"])
        if holder is None:
            self.reply({"id": req["id"], "ok": False, "error": {"type": "NotLoaded", "message": "load the set first"}})
            return
        holder.used = started
        timeout = float(req.get("timeout", 5))
        deadline = started + timeout
        oom_before = oom_kills() if self.contained else -1
        msg = {"id": req["id"], "name": req["name"], "args": json.dumps(req.get("args", {})), "timeout": timeout}
        out = bytearray()
        result = child = status = None
        holder_alive = True
        try:
            write_all(holder.to_fd, frame(msg), deadline)
        except (TimeoutError, OSError):
            holder_alive = False
        why = None
        while result is None and why is None:
            left = deadline - time.monotonic()
            if left <= 0:
                why = "timeout"
                break
            fds = [holder.out_fd, holder.res.fd] + ([holder.ctrl.fd] if holder_alive else [])
            ready = select.select(fds, [], [], left)[0]
            if holder.out_fd in ready:
                self.drain(holder.out_fd, out)
                if len(out) > self.output_limit:
                    why = "output"
            if holder.res.fd in ready:
                if not holder.res.feed():
                    why = why or "crashed"
                for m in holder.res.frames():
                    if m.get("id") == req["id"] and m.get("kind") == "result":
                        result = m
            if holder_alive and holder.ctrl.fd in ready:
                if not holder.ctrl.feed():
                    holder_alive = False
                for m in holder.ctrl.frames():
                    if m.get("id") != req["id"]:
                        continue
                    if m.get("kind") == "started":
                        child = m.get("pid")
                    elif m.get("kind") == "done":
                        status = m.get("status")
                if status is not None and result is None:
                    # The child has exited: whatever it wrote is in the pipes now.
                    while holder.res.feed() and select.select([holder.res.fd], [], [], 0)[0]:
                        pass
                    for m in holder.res.frames():
                        if m.get("id") == req["id"] and m.get("kind") == "result":
                            result = m
                    if result is None:
                        why = "crashed"
        while why != "output" and select.select([holder.out_fd], [], [], 0)[0] and len(out) <= self.output_limit:
            if not self.drain(holder.out_fd, out):
                break
        if len(out) > self.output_limit and why is None and result is not None:
            why = "output"
        duration = time.monotonic() - started
        stdout = out[: self.output_limit].decode("utf-8", "replace")
        reply = {"id": req["id"], "stdout": stdout, "duration_s": round(duration, 6)}
        if why is None and result is not None:
            if "error" in result:
                reply.update(ok=False, error=result["error"])
            else:
                reply.update(ok=True, value_json=result.get("value_json", "null"))
        else:
            self.kill(child)
            if why == "timeout":
                error = {"type": "Timeout", "message": "the call did not finish within %gs; killed" % timeout}
            elif why == "output":
                error = {"type": "OutputLimit", "message": "the call printed more than %d bytes; killed" % self.output_limit}
            else:
                error = self.crash_error(status, oom_before)
            reply.update(ok=False, error=error)
        if not holder_alive or holder.res.eof:
            self.drop_holder(req["set"])
        self.reply(reply)
        self.sweep()

    def crash_error(self, status, oom_before):
        oom_after = oom_kills() if self.contained else -1
        if oom_before >= 0 and oom_after > oom_before:
            return {"type": "MemoryLimit", "message": "the call went over the sandbox memory limit and was killed"}
        if status is None:
            return {"type": "Crashed", "message": "the call's process died without returning (its parent was killed)"}
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            if sig == signal.SIGXCPU:
                return {"type": "Timeout", "message": "the call used up its CPU time limit"}
            if sig == signal.SIGKILL and self.limits.get("as_bytes"):
                return {"type": "MemoryLimit", "message": "the call was killed (SIGKILL), most likely over the memory limit"}
            return {"type": "Crashed", "message": "the call's process was killed by %s" % name}
        return {"type": "Crashed", "message": "the call's process exited with status %d without returning" % os.WEXITSTATUS(status)}

    def drop_holder(self, key):
        holder = self.holders.pop(key, None)
        if holder is not None:
            self.kill(holder.pid)
            holder.close()

    def proptest(self, req):
        started = time.monotonic()
        total = float(req.get("timeout", 60))
        per_example = float(req.get("call_timeout", 5))
        deadline = started + total
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            __import__("hypothesis")  # warm the trusted library once; children inherit it
        except Exception:
            pass
        pid = os.fork()
        if pid == 0:
            try:
                child_setup([res_w], out_w)
                proptest_child(req, req["modules"], res_w, self.limits)
            finally:
                os._exit(70)
        os.close(res_w)
        os.close(out_w)
        os.set_blocking(out_r, False)
        res = FrameReader(res_r)
        out = bytearray()
        report = None
        current = None
        example_started = time.monotonic()
        why = None
        oom_before = oom_kills() if self.contained else -1
        while report is None:
            now = time.monotonic()
            limit = min(deadline, example_started + per_example + 1.0) if current else deadline
            if now >= limit:
                why = "example" if current and limit < deadline else "total"
                break
            ready = select.select([res_r, out_r], [], [], limit - now)[0]
            if out_r in ready:
                self.drain(out_r, out)
            if res_r in ready:
                alive = res.feed()
                for m in res.frames():
                    if m.get("kind") == "example":
                        current, example_started = m, time.monotonic()
                    elif m.get("kind") == "example_done":
                        current = None
                    elif m.get("kind") == "report":
                        report = m
                if not alive and report is None:
                    why = "crashed"
                    break
        self.kill(pid)
        os.close(res_r)
        os.close(out_r)
        self.sweep()
        reply = {"id": req["id"], "duration_s": round(time.monotonic() - started, 6),
                 "stdout": out[: self.output_limit].decode("utf-8", "replace")}
        if report is not None:
            reply.update(ok="error" not in report, report=report.get("report"), error=report.get("error"))
        else:
            example = current or {}
            if why == "example":
                message = "did not finish within %gs" % per_example
            elif why == "total":
                message = "property tests did not finish within %gs" % total
            else:
                message = self.crash_error(self.exited.get(pid), oom_before)["message"]
            reply.update(ok=True, report={"passed": False, "checked": [], "notes": [], "failures": [{
                "function": example.get("function", ""), "property": example.get("property", "finishes within the limit"),
                "falsifying_example": example.get("example", ""), "message": message}]})
        self.reply(reply)

    def serve(self):
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
                        self.load(req)
                    elif op == "call":
                        self.call(req)
                    elif op == "proptest":
                        self.proptest(req)
                    else:
                        self.reply({"id": req.get("id"), "ok": False, "error": {"type": "BadRequest", "message": "unknown op %r" % op}})
                except (TimeoutError, BrokenPipeError):
                    return
                except Exception as e:  # noqa: BLE001 - a worker bug is reported, the loop goes on
                    self.sweep()
                    self.reply({"id": req.get("id"), "ok": False, "error": {"type": "WorkerError", "message": "%s: %s" % (type(e).__name__, e)}})


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def main(argv):
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
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    if config.get("rlimits", {}).get("worker_as_bytes"):
        apply_rlimits({"as_bytes": config["rlimits"]["worker_as_bytes"]})
    Worker(pin, pout, config).serve()


if __name__ == "__main__":
    main(sys.argv)
