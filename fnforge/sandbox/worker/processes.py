"""Process plumbing every forked child shares, and the kernel limits that stand in for a cgroup.

Forking through a full process table, closing inherited descriptors, the oom score that
makes a call the memory limit's first victim, and, for the process backend (no container),
rlimits and a death signal when the parent goes. Reading the container's memory cgroup
tells a call killed by the memory limit from any other crash.
"""

import math
import os
import resource
import signal
import time


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
