"""The process backend: the same worker as a local subprocess, for machines without Docker.

Weaker than a container, and it says so: the worker runs with the host's user and
filesystem, limited only by rlimits (address space, CPU seconds per call, file size, and
for a non-root user the number of processes), a scrubbed environment and a private
working directory. There is no network isolation and
no PID namespace, so processes a call deliberately detaches are not swept up.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from fnforge.config import SandboxSettings
from fnforge.sandbox.backend import MB, WORKER_MAIN, Sandbox
from fnforge.sandbox.image import host_packages
from fnforge.sandbox.transport import Transport

WEAKER = (
    "sandbox: the process backend is in use, which is weaker: functions run as local subprocesses "
    "limited only by rlimits, without network, filesystem or process isolation. For the real sandbox "
    "run Docker and `fnforge sandbox build`."
)
# The interpreter itself maps far more address space than it touches (arenas, libraries).
AS_HEADROOM_MB = 160


class ProcessTransport(Transport):
    """Pipes to a local worker subprocess."""

    def __init__(self, proc: subprocess.Popen, workdir: str):
        self.proc = proc
        self.workdir = workdir
        self._out = proc.stdout.fileno()  # type: ignore[union-attr]

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self, deadline: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self._out], [], [], left)[0]:
            raise TimeoutError
        return os.read(self._out, 1 << 16)

    def diagnostics(self) -> str:
        return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


class ProcessSandbox(Sandbox):
    """Starts the worker as a local subprocess with rlimits and a scrubbed environment."""

    name = "process"
    contained = False

    def __init__(self, settings: SandboxSettings):
        super().__init__(settings)

    def packages(self) -> list[str]:
        return host_packages()

    def worker_config(self) -> dict:
        s = self.settings
        return {
            **super().worker_config(),
            "contained": False,
            "rlimits": {
                "as_bytes": (s.memory_mb + AS_HEADROOM_MB) * MB,
                "fsize_bytes": s.tmpfs_mb * MB,
                "nproc_extra": s.pids,
            },
        }

    def start_worker(self) -> Transport:
        workdir = tempfile.mkdtemp(prefix="fnforge-sandbox-")
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
        proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER_MAIN), json.dumps(self.worker_config())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
            close_fds=True,
            start_new_session=True,
        )
        return ProcessTransport(proc, workdir)
