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

import builtins
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
SPARES = 2  # call children each holder keeps forked and waiting: back-to-back calls never wait for a fork
MAX_DEPTH = 64
RESULT_LIMIT = 4 * 1024 * 1024

# Captured before any user code runs: a call child that monkeypatches json, os or builtins
# must still be able to report its own result (and cannot reach anyone else's).
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_WRITE = os.write
_EXIT = os._exit
_PACK = HEADER.pack
_ISFINITE = math.isfinite


# ---------------------------------------------------------------- framing


def frame(obj):
    """One protocol frame: a 4-byte big-endian length and compact JSON."""
    data = _ENCODE(obj).encode()
    return _PACK(len(data)) + data


def write_all(fd, data, deadline=None):
    """Write every byte, waiting for the pipe to drain until `deadline` (monotonic)."""
    view = memoryview(data)
    while view:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise TimeoutError("peer stopped reading")
        n = _WRITE(fd, view[: 1 << 16])
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


def fork(reap=None, patience=2.0):
    """os.fork that waits out a full process table (processes just killed still count until
    they are reaped) instead of failing at once."""
    limit = time.monotonic() + patience
    while True:
        try:
            return os.fork()
        except BlockingIOError:
            if time.monotonic() >= limit:
                raise
            if reap is not None:
                reap()
            time.sleep(0.005)


def close_fds_except(keep):
    """Close every descriptor above 2 that is not in `keep`."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def set_dumpable(flag):
    """PR_SET_DUMPABLE: a non-dumpable process's /proc/<pid>/{fd,mem,environ} and ptrace are
    closed to other processes of the same user."""
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
    """Make this process the memory limit's preferred victim (only raising is allowed)."""
    try:  # os-level calls: a text-mode open() in a fresh fork costs ~0.15 ms of copy-on-write faults
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
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


def memory_use():
    """(bytes used, limit) of the container's memory cgroup, or None when unknown."""
    for used_path, limit_path in (
        ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.max"),
    ):
        try:
            with open(used_path) as f:
                used = int(f.read().strip())
            with open(limit_path) as f:
                text = f.read().strip()
            return used, (int(text) if text.isdigit() else 0)
        except (OSError, ValueError):
            continue
    return None


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


def process_limit(limits):
    """Process backend, non-root only: RLIMIT_NPROC counts every process of the user, so a
    call may run what the user runs now plus `nproc_extra` (root ignores the limit anyway).
    Counted once per loaded set; each call child applies it."""
    extra = limits.get("nproc_extra")
    if not extra or os.getuid() == 0:
        return None
    uid = str(os.getuid())
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status") as f:
                    count += any(line.startswith("Uid:") and line.split()[1] == uid for line in f)
            except OSError:
                continue
    return count + extra


def limit_processes(nproc):
    """Apply the per-set process limit `process_limit` computed (None: no limit)."""
    if nproc:
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
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
    # Children stay non-dumpable (inherited from the worker): a call cannot open another
    # set's /proc/<pid>/mem, fd or environ, nor ptrace it, though all run as one user.


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
            errors[name] = {"type": type(e).__name__, "message": f"functions/{name}.py failed to load: {e}"}
        if threads_running() > 1:
            return {"*": {"type": "ImportError", "message": f"functions/{name}.py started a thread while it was "
                          "imported; start threads inside the function instead"}}
    return errors


def threads_running():
    """How many threads this process has (a holder must keep none after loading)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


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
        text = _ENCODE(value)
    except (ValueError, TypeError, RecursionError) as e:
        return None, {"type": "NotJSON", "message": f"the return value cannot be written as JSON: {e}"}
    if len(text) > RESULT_LIMIT:
        return None, {"type": "OutputLimit", "message": f"the return value is {len(text)} bytes of JSON; the limit is {RESULT_LIMIT}"}
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
        os._exit(3)  # the worker closed the set: the holder ends too
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
            text, err = None, {"type": "NotJSON", "message": f"the return value cannot be written as JSON: {type(e).__name__}"}
        if err:
            reply["error"] = err
        else:
            reply["value_json"] = text
    flush_std()
    try:
        write_all(res_w, frame(reply))
    finally:
        _EXIT(0)


def read_ready(fd):
    """What a non-blocking descriptor holds now (b"" at end of file; b"?" when nothing yet)."""
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b"?"
    except OSError:
        return b""


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
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
                os._exit(0)
            if spares.retire(pid):
                spares.fill()  # it died before it took a request: never leave the set short
        if go_r in ready:
            if not read_ready(go_r):
                os._exit(0)  # the worker let go of this set
            spares.fill()


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
        """Inside a container: kill every process that is not the worker, a holder or its spares.

        That removes whatever a call left behind: daemons that double-forked away, a fork
        bomb, a call child stuck in a signal handler after it answered. A holder runs no user
        code after loading (it may not keep threads), so an unannounced child of it is a spare
        it is forking right now, up to SPARES in all; after a load (`settle`) the sweep first
        waits for the announcements and then keeps only announced spares, so nothing a
        module's import forked survives.
        """
        self.reap()
        if not self.contained:
            return
        for key, h in list(self.holders.items()):
            if settle:
                h.settle()
            elif h.alive:
                h.listen()
            if not h.alive:
                self.drop_holder(key)
        holders = {h.pid: h for h in self.holders.values()}
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
            fresh = [p for p in strays if p not in self.doomed]
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            self.doomed.update(strays)
            if not fresh:
                break  # only processes already sent SIGKILL: they are dying, nothing forks
            time.sleep(0.0005 * (attempt + 1))
            self.reap()
        else:
            # Something keeps forking: signal everything but PID 1 at once, holders included.
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            for key in list(self.holders):
                self.drop_holder(key)
            limit = time.monotonic() + 2.0
            while time.monotonic() < limit:
                self.reap()
                alive = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != 1
                         and _state(int(p))[0] not in ("Z", "X", "")]
                if not alive:
                    break
                time.sleep(0.005)
        self.reap()
        if len(self.doomed) > 4096:
            self.doomed = set()

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
        self.reply({"id": req["id"], "ok": True, "pid": os.getpid(), "uid": os.getuid(),
                    "python": sys.version.split()[0], "contained": self.contained})

    def load(self, req):
        """Fork a holder that imports the set (cached by content hash; LRU and memory eviction)."""
        key = req["set"]
        if key in self.holders:
            self.holders[key].used = time.monotonic()
            self.reply({"id": req["id"], "ok": True, "errors": {}, "stdout": ""})
            return
        while len(self.holders) >= MAX_HOLDERS or (self.holders and self.memory_tight()):
            self.drop_holder(min(self.holders, key=lambda k: self.holders[k].used))
        oom_before = oom_kills() if self.contained else -1
        c2h_r, c2h_w = os.pipe()
        h2c_r, h2c_w = os.pipe()
        go_r, go_w = os.pipe()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            pid = fork(self.reap)
        except OSError:
            for fd in (c2h_r, c2h_w, h2c_r, h2c_w, go_r, go_w, out_r, out_w, res_r, res_w):
                os.close(fd)
            raise
        if pid == 0:
            try:
                holder_main(req["modules"], c2h_r, h2c_w, go_r, out_w, res_w, self.limits)
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
                self.drain(out_r, out)
            if h2c_r in ready:
                if not holder.ctrl.feed():
                    holder.alive = False
                holder.note(holder.ctrl.frames())
        if holder.loaded is not None:
            self.drain_all(out_r, out)
        stdout = out[: self.output_limit].decode("utf-8", "replace")
        errors = holder.loaded.get("errors") if holder.loaded is not None else None
        if isinstance(errors, dict) and "*" in errors:
            self.kill(pid)
            holder.close()
            result = {"id": req["id"], "ok": False, "error": errors["*"], "stdout": stdout}
        elif holder.loaded is None:
            self.kill(pid)
            holder.close()
            if time.monotonic() >= deadline:
                err = {"type": "Timeout", "message": f"importing the function set did not finish within {timeout:g}s"}
            else:
                self.reap()
                err = self.crash_error(self.exited.get(pid), oom_before)
                err["message"] = "importing the function set: " + err["message"].replace("the call", "the import")
            result = {"id": req["id"], "ok": False, "error": err, "stdout": stdout}
        else:
            self.holders[key] = holder
            result = {"id": req["id"], "ok": True, "errors": errors if isinstance(errors, dict) else {}, "stdout": stdout}
        self.reply(result)
        self.sweep(settle=True)

    def call(self, req):
        """Hand one call to the set's spare child and enforce its wall clock and output limit."""
        started = time.monotonic()
        holder = self.holders.get(req["set"])
        if holder is None or not holder.alive:
            if holder is not None:
                self.drop_holder(req["set"])
            self.reply({"id": req["id"], "ok": False, "error": {"type": "NotLoaded", "message": "load the set first"}})
            return
        holder.used = started
        # Whatever an earlier call's child wrote after its answer belongs to no one.
        for _ in range(64):
            if not select.select([holder.out_fd], [], [], 0)[0] or not self.drain(holder.out_fd, bytearray()):
                break
        for _ in range(64):
            if not select.select([holder.res.fd], [], [], 0)[0] or not holder.res.feed():
                break
            holder.res.frames()
        oom_before = oom_kills() if self.contained else -1
        timeout = float(req.get("timeout", 5))
        deadline = started + timeout
        msg = {"id": req["id"], "name": req["name"], "args": json.dumps(req.get("args", {})), "timeout": timeout}
        out = bytearray()
        result = child = status = why = None
        try:
            write_all(holder.to_fd, frame(msg), deadline)
        except (TimeoutError, OSError):
            why = "timeout"
        while result is None and why is None:
            left = deadline - time.monotonic()
            if left <= 0:
                why = "timeout"
                break
            fds = [holder.out_fd, holder.res.fd] + ([holder.ctrl.fd] if holder.alive else [])
            ready = select.select(fds, [], [], left)[0]
            if holder.out_fd in ready:
                self.drain(holder.out_fd, out)
                if len(out) > self.output_limit:
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
            self.drain_all(holder.out_fd, out)
            if len(out) > self.output_limit and result is not None:
                why = "output"
        stdout = out[: self.output_limit].decode("utf-8", "replace")
        reply = {"id": req["id"], "stdout": stdout, "duration_s": round(time.monotonic() - started, 6)}
        if why is None and result is not None:
            if "error" in result:
                reply.update(ok=False, error=result["error"])
            else:
                reply.update(ok=True, value_json=result.get("value_json", "null"))
        else:
            if child is not None and status is None:
                self.kill(child)
            if why == "timeout":
                if child is None:  # the holder never handed the request to a child: it is stuck
                    self.drop_holder(req["set"])
                    error = {"type": "Timeout", "message": f"the call did not start within {timeout:g}s (its set's process was stuck); "
                             "replaced it"}
                else:
                    error = {"type": "Timeout", "message": f"the call did not finish within {timeout:g}s; killed"}
            elif why == "output":
                error = {"type": "OutputLimit", "message": f"the call printed more than {self.output_limit} bytes; killed"}
            else:
                error = self.crash_error(status, oom_before)
            reply.update(ok=False, error=error)
        if not holder.alive:
            self.drop_holder(req["set"])
        self.reply(reply)
        if child is not None:
            # It answered; nothing of it may run on. Outside a container only its process
            # group is signalled (a reaped pid may already belong to someone else).
            if self.contained:
                self.kill(child)
                self.doomed.add(child)  # the sweep needs no second look at it
            else:
                try:
                    os.killpg(child, signal.SIGKILL)
                except OSError:
                    pass
        self.sweep()
        live = self.holders.get(req["set"])
        if live is not None:  # the answer has left: now the holder may fork the next spare
            try:
                os.write(live.go_fd, b"g")
            except OSError:
                pass

    def crash_error(self, status, oom_before=-1):
        """Name what ended a child that did not answer: the memory limit, a signal, an exit."""
        oom_now = oom_kills() if self.contained else -1
        if oom_before >= 0 and oom_now > oom_before:
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
            return {"type": "Crashed", "message": f"the call's process was killed by {name}"}
        return {"type": "Crashed", "message": f"the call's process exited with status {os.WEXITSTATUS(status)} without returning"}

    def proptest(self, req):
        """Run the property runner in a fresh child, with a watchdog on each announced example."""
        started = time.monotonic()
        total = float(req.get("timeout", 60))
        per_example = float(req.get("call_timeout", 5))
        deadline = started + total
        oom_before = oom_kills() if self.contained else -1
        res_r, res_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            pid = fork(self.reap)
        except OSError:
            for fd in (res_r, res_w, out_r, out_w):
                os.close(fd)
            raise
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
        while report is None:
            now = time.monotonic()
            if current:
                limit = min(deadline, example_started + float(current.get("limit", per_example)) + 1.0)
            else:
                limit = deadline
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
        self.doomed.add(pid)
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
                message = "did not finish within {:g}s".format(float(example.get("limit", per_example)))
            elif why == "total":
                message = f"property tests did not finish within {total:g}s"
            else:
                message = self.crash_error(self.exited.get(pid), oom_before)["message"]
            reply.update(ok=True, report={"passed": False, "checked": [], "notes": [], "failures": [{
                "function": example.get("function", ""), "property": example.get("property", "finishes within the limit"),
                "falsifying_example": example.get("example", ""), "message": message}]})
        self.reply(reply)

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
                        self.load(req)
                    elif op == "call":
                        self.call(req)
                    elif op == "proptest":
                        self.proptest(req)
                    else:
                        self.reply({"id": req.get("id"), "ok": False, "error": {"type": "BadRequest", "message": f"unknown op {op!r}"}})
                except (TimeoutError, BrokenPipeError):
                    return
                except Exception as e:  # noqa: BLE001 - a worker bug is reported, the loop goes on
                    self.sweep()
                    self.reply({"id": req.get("id"), "ok": False, "error": {"type": "WorkerError", "message": f"{type(e).__name__}: {e}"}})


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


if __name__ == "__main__":
    main(sys.argv)
