"""Isolation probes: small functions that try to break out, run through the real pool.

`fnforge sandbox check` prints their outcome as a table. Each probe is an ordinary call,
so it exercises exactly the path the engine uses; each row says what was tried, what was
observed inside, and whether the limit held.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fnforge.config import SandboxSettings
from fnforge.sandbox.pool import SandboxPool

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
    """Run every probe once and judge it."""
    rows: list[ProbeRow] = []

    def call(name: str, args: dict | None = None, timeout: float | None = None):
        return pool.call({name: PROBES[name]}, name, args or {}, timeout=timeout)

    def text(res) -> str:
        return str(res.value) if res.ok else f"{res.error.type}: {res.error.message}"

    r = call("net_ip")
    rows.append(
        ProbeRow(
            "network", "connect to 1.1.1.1:53 by IP", text(r), r.ok and str(r.value).startswith("refused")
        )
    )
    r = call("net_name")
    rows.append(
        ProbeRow("network", "resolve a host name", text(r), r.ok and str(r.value).startswith("refused"))
    )
    for path, what in (
        ("/etc/fnforge-probe", "write to /etc"),
        ("/usr/fnforge-probe", "write to /usr"),
        ("/var/tmp/fnforge-probe", "write outside /tmp (/var/tmp)"),
    ):
        r = call("write", {"path": path})
        rows.append(ProbeRow("filesystem", what, text(r), r.ok and str(r.value).startswith("refused")))
    r = call("tmp_exec")
    rows.append(
        ProbeRow(
            "filesystem",
            "execute a file written to /tmp",
            text(r),
            r.ok and str(r.value).startswith("refused"),
        )
    )
    r = call("identity")
    ident = r.value if r.ok and isinstance(r.value, dict) else {}
    rows.append(
        ProbeRow(
            "privileges", "non-root user", f"uid {ident.get('uid', '?')}", ident.get("uid") not in (0, None)
        )
    )
    rows.append(
        ProbeRow(
            "privileges",
            "no capabilities",
            f"CapEff {ident.get('cap_eff', '?')}",
            str(ident.get("cap_eff", "")).strip("0") == "" and bool(ident.get("cap_eff")),
        )
    )
    rows.append(
        ProbeRow(
            "privileges",
            "no new privileges",
            f"NoNewPrivs {ident.get('no_new_privs', '?')}",
            ident.get("no_new_privs") == "1",
        )
    )
    r = call("env")
    inside = r.value if r.ok and isinstance(r.value, dict) else {}
    leaked = sorted(k for k, v in os.environ.items() if k not in _HOST_ENV_OK and inside.get(k) == v and v)
    rows.append(
        ProbeRow(
            "environment",
            "no host environment variables",
            f"{len(inside)} variables ({', '.join(sorted(inside))[:80]}); host values inside: {', '.join(leaked) or 'none'}",
            r.ok and not leaked,
        )
    )
    r = call("memory", {"mb": settings.memory_mb * 2})
    rows.append(
        ProbeRow(
            "limits",
            f"memory: allocate {settings.memory_mb * 2} MB (limit {settings.memory_mb} MB)",
            text(r),
            not r.ok and r.error.type == "MemoryLimit",
        )
    )
    r = call("spin", timeout=1.0)
    rows.append(
        ProbeRow(
            "limits", "wall clock: endless loop, timeout 1s", text(r), not r.ok and r.error.type == "Timeout"
        )
    )
    r = call("forks", {"n": settings.pids * 4}, timeout=10)
    rows.append(
        ProbeRow(
            "limits",
            f"processes: fork {settings.pids * 4} (limit {settings.pids})",
            text(r),
            r.ok and str(r.value).startswith("fork refused"),
        )
    )
    r = call("shout", {"n": settings.output_limit_bytes // 100})
    rows.append(
        ProbeRow(
            "limits",
            f"output: print {settings.output_limit_bytes * 10} bytes (limit {settings.output_limit_bytes})",
            (text(r))[:120],
            not r.ok and r.error.type == "OutputLimit",
        )
    )
    return rows
