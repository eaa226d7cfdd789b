"""Isolation probes: small functions that try to break out, run through the real pool.

`fnforge sandbox check` prints their outcome as a table. Each probe is an ordinary call,
so it exercises exactly the path the engine uses; each row says what was tried, what was
observed inside, and whether the limit held.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from fnforge.config import SandboxSettings
from fnforge.sandbox.pool import SandboxPool
from fnforge.sandbox.results import CallResult

# one probe call: (probe name, arguments, timeout) -> its result
Probe = Callable[..., CallResult]

# Variables the sandbox sets itself (the image's ENV, Docker's defaults): equal values are no leak.
_HOST_ENV_OK = {
    "PATH",
    "HOME",
    "HOSTNAME",
    "LANG",
    "LC_ALL",
    "TERM",
    "PWD",
    "SHLVL",
    "TMPDIR",
    "_",
    "PYTHONDONTWRITEBYTECODE",
}

PROBES = {
    "net_ip": """
def net_ip() -> str:
    import socket
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        return "connected to 1.1.1.1:53"
    except OSError as e:
        return "refused: " + type(e).__name__ + ": " + str(e)
""",
    "net_name": """
def net_name() -> str:
    import socket
    try:
        return "resolved: " + str(socket.getaddrinfo("deb.debian.org", 80)[0][4])
    except OSError as e:
        return "refused: " + type(e).__name__ + ": " + str(e)
""",
    "write": """
def write(path: str) -> str:
    try:
        with open(path, "w") as f:
            f.write("x")
        return "wrote " + path
    except OSError as e:
        return "refused: " + type(e).__name__ + ": " + e.strerror
""",
    "tmp_exec": """
def tmp_exec() -> str:
    import os, subprocess, tempfile
    path = os.path.join(tempfile.gettempdir(), "fnforge-probe.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\\necho ran\\n")
    os.chmod(path, 0o755)
    try:
        return "executed: " + subprocess.run([path], capture_output=True, text=True).stdout.strip()
    except OSError as e:
        return "refused: " + type(e).__name__ + ": " + e.strerror
""",
    "identity": """
def identity() -> dict:
    import os
    caps = [line.split()[1] for line in open("/proc/self/status") if line.startswith("CapEff")]
    nnp = [line.split()[1] for line in open("/proc/self/status") if line.startswith("NoNewPrivs")]
    return {"uid": os.getuid(), "cap_eff": caps[0] if caps else "?", "no_new_privs": nnp[0] if nnp else "?"}
""",
    "env": """
def env() -> dict:
    import os
    return dict(os.environ)
""",
    "memory": """
def memory(mb: int) -> str:
    blocks = [bytearray(1024 * 1024) for _ in range(mb)]
    return "allocated %d MB" % len(blocks)
""",
    "spin": """
def spin() -> None:
    while True:
        pass
""",
    "forks": """
def forks(n: int) -> str:
    import os, time
    made = 0
    for _ in range(n):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            made += 1
        except OSError as e:
            return "fork refused after %d processes: %s" % (made, e.strerror)
    return "forked %d processes" % made
""",
    "shout": """
def shout(n: int) -> None:
    import sys
    for _ in range(n):
        sys.stdout.write("x" * 1000)
""",
}


@dataclass
class ProbeRow:
    """One line of the isolation table."""

    area: str
    check: str
    observed: str
    held: bool


def run_probes(pool: SandboxPool, settings: SandboxSettings) -> list[ProbeRow]:
    """Run every probe once and judge it: network, filesystem, privileges, environment, limits."""

    def call(name: str, args: dict | None = None, timeout: float | None = None) -> CallResult:
        return pool.call({name: PROBES[name]}, name, args or {}, timeout=timeout)

    return [
        *network_rows(call),
        *filesystem_rows(call),
        *privilege_rows(call),
        *environment_rows(call),
        *limit_rows(call, settings),
    ]


def _text(res: CallResult) -> str:
    """What a probe observed: its value, or the error that stopped it."""
    return str(res.value) if res.ok else f"{res.error.type}: {res.error.message}"


def _refused(res: CallResult) -> bool:
    """The probe ran and says the sandbox refused what it tried."""
    return res.ok and str(res.value).startswith("refused")


def network_rows(call: Probe) -> list[ProbeRow]:
    """No route out: neither by IP nor by name."""
    r = call("net_ip")
    rows = [ProbeRow("network", "connect to 1.1.1.1:53 by IP", _text(r), _refused(r))]
    r = call("net_name")
    rows.append(ProbeRow("network", "resolve a host name", _text(r), _refused(r)))
    return rows


def filesystem_rows(call: Probe) -> list[ProbeRow]:
    """A read-only root, and a /tmp whose files cannot be executed."""
    rows = []
    for path, what in (
        ("/etc/fnforge-probe", "write to /etc"),
        ("/usr/fnforge-probe", "write to /usr"),
        ("/var/tmp/fnforge-probe", "write outside /tmp (/var/tmp)"),
    ):
        r = call("write", {"path": path})
        rows.append(ProbeRow("filesystem", what, _text(r), _refused(r)))
    r = call("tmp_exec")
    rows.append(ProbeRow("filesystem", "execute a file written to /tmp", _text(r), _refused(r)))
    return rows


def privilege_rows(call: Probe) -> list[ProbeRow]:
    """A non-root user without capabilities, unable to gain new privileges."""
    r = call("identity")
    ident = r.value if r.ok and isinstance(r.value, dict) else {}
    cap_eff = ident.get("cap_eff")
    return [
        ProbeRow(
            "privileges", "non-root user", f"uid {ident.get('uid', '?')}", ident.get("uid") not in (0, None)
        ),
        ProbeRow(
            "privileges",
            "no capabilities",
            f"CapEff {ident.get('cap_eff', '?')}",
            str(ident.get("cap_eff", "")).strip("0") == "" and bool(cap_eff),
        ),
        ProbeRow(
            "privileges",
            "no new privileges",
            f"NoNewPrivs {ident.get('no_new_privs', '?')}",
            ident.get("no_new_privs") == "1",
        ),
    ]


def environment_rows(call: Probe) -> list[ProbeRow]:
    """No value of the host's environment inside (beyond what the sandbox sets itself)."""
    r = call("env")
    inside = r.value if r.ok and isinstance(r.value, dict) else {}
    leaked = sorted(k for k, v in os.environ.items() if k not in _HOST_ENV_OK and inside.get(k) == v and v)
    names = ", ".join(sorted(inside))[:80]
    observed = f"{len(inside)} variables ({names}); host values inside: {', '.join(leaked) or 'none'}"
    return [ProbeRow("environment", "no host environment variables", observed, r.ok and not leaked)]


def limit_rows(call: Probe, settings: SandboxSettings) -> list[ProbeRow]:
    """Memory, wall clock, processes and output each stop at the configured limit."""
    rows = []
    r = call("memory", {"mb": settings.memory_mb * 2})
    what = f"memory: allocate {settings.memory_mb * 2} MB (limit {settings.memory_mb} MB)"
    rows.append(ProbeRow("limits", what, _text(r), not r.ok and r.error.type == "MemoryLimit"))
    r = call("spin", timeout=1.0)
    what = "wall clock: endless loop, timeout 1s"
    rows.append(ProbeRow("limits", what, _text(r), not r.ok and r.error.type == "Timeout"))
    r = call("forks", {"n": settings.pids * 4}, timeout=10)
    what = f"processes: fork {settings.pids * 4} (limit {settings.pids})"
    rows.append(ProbeRow("limits", what, _text(r), r.ok and str(r.value).startswith("fork refused")))
    r = call("shout", {"n": settings.output_limit_bytes // 100})
    limit = settings.output_limit_bytes
    what = f"output: print {limit * 10} bytes (limit {limit})"
    rows.append(ProbeRow("limits", what, _text(r)[:120], not r.ok and r.error.type == "OutputLimit"))
    return rows
