"""The Docker backend: one long-lived, locked-down container per warm worker.

Each container: no network, read-only root, a small noexec tmpfs at /tmp, every capability
dropped, no-new-privileges, a non-root user, pids/memory(=memory+swap)/CPU limits, no IPC
namespace sharing (so no writable /dev/shm), an empty environment, no mounts but the worker
package read-only, and no log driver. The worker is the container's PID 1, so nothing inside
can kill it with a signal, and it can remove every process a call left behind.

The host talks to the worker through the container's attached stdin/stdout (the Docker
attach stream, demultiplexed here). Containers carry labels naming their owner process,
so they are removed on exit and, after a crash, by the next pool that starts on this host.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import struct
import threading
import time
import weakref

from fnforge.config import SandboxSettings
from fnforge.sandbox.backend import MB, WORKER_DIR, Sandbox
from fnforge.sandbox.image import (
    LABEL_PACKAGES,
    LABEL_RECIPE,
    SANDBOX_UID,
    docker_client,
    recipe_hash,
)
from fnforge.sandbox.results import SandboxUnavailable
from fnforge.sandbox.transport import Transport

LABEL = "fnforge.sandbox"
LABEL_OWNER = "fnforge.owner"
WORKER_IN_CONTAINER = "/opt/fnforge/worker"  # the worker package, mounted read-only
_DEMUX = struct.Struct(">BxxxI")


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def owner_label(pid: int | None = None) -> str:
    """host:pid:start-time of the process that owns a container (survives pid reuse)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def owner_is_gone(label: str) -> bool:
    """True when the owner named by `label` is a process on this host that no longer runs."""
    host, _, rest = label.partition(":")
    pid_s, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_s.isdigit():
        return False
    return _start_time(int(pid_s)) != started


class DockerTransport(Transport):
    """The attach stream of one container: stdin out, stdout/stderr demultiplexed in."""

    def __init__(self, container, sock):
        self.container = container
        self._sock = getattr(sock, "_sock", sock)
        # the SDK's wrapper holds the attach response; once collected, the response closes the
        # socket under us (docker-py#350/#413): a random "Bad file descriptor" in a busy process
        self._attach = sock
        self._pending = bytearray()
        self._stderr = bytearray()
        self._killed = False
        self._lock = threading.Lock()

    def send(self, data: bytes) -> None:
        self._sock.settimeout(30)
        self._sock.sendall(data)

    def recv(self, deadline: float) -> bytes:
        while True:
            if len(self._pending) >= 8:
                stream, size = _DEMUX.unpack_from(self._pending)
                if len(self._pending) >= 8 + size:
                    payload = bytes(self._pending[8 : 8 + size])
                    del self._pending[: 8 + size]
                    if stream == 1:
                        return payload
                    if len(self._stderr) < 65536:
                        self._stderr += payload
                    continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(1 << 16)
            except TimeoutError:
                raise TimeoutError from None
            if not data:
                return b""
            self._pending += data

    def diagnostics(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def kill(self) -> None:
        with self._lock:
            if self._killed:
                return
            self._killed = True
        try:
            self._sock.close()
        except OSError:
            pass
        try:
            self.container.remove(force=True)
        except Exception:
            pass


class DockerSandbox(Sandbox):
    """Starts hardened containers from the sandbox image."""

    name = "docker"
    contained = True

    def __init__(self, settings: SandboxSettings, client=None):
        super().__init__(settings)
        self.client = client or docker_client()
        if self.client is None:
            raise SandboxUnavailable(
                'no Docker engine answers; start one (`dockerd &`), or set [sandbox] backend = "process" '
                "(weaker isolation)"
            )
        try:
            image = self.client.images.get(settings.image)
        except Exception:
            raise SandboxUnavailable(
                f"sandbox image {settings.image!r} not found; run `fnforge sandbox build`"
            ) from None
        self.labels = dict(image.labels or {})
        self.current = self.labels.get(LABEL_RECIPE) == recipe_hash()
        self._mine: weakref.WeakSet = weakref.WeakSet()
        self.remove_stale()
        # A pool nobody closed still removes its containers when the interpreter exits.
        ref = weakref.ref(self)
        atexit.register(lambda: (lambda me: me.close() if me is not None else None)(ref()))

    def packages(self) -> list[str]:
        return sorted(p for p in self.labels.get(LABEL_PACKAGES, "").split(",") if p)

    def remove_stale(self) -> int:
        """Remove sandbox containers whose owner process on this host is gone; return how many."""
        removed = 0
        try:  # the plain listing: no per-container inspect that races with other removals
            listed = self.client.api.containers(all=True, filters={"label": f"{LABEL}=1"})
        except Exception:
            return 0
        for c in listed:
            if owner_is_gone((c.get("Labels") or {}).get(LABEL_OWNER, "")):
                try:
                    self.client.api.remove_container(c["Id"], force=True)
                    removed += 1
                except Exception:
                    pass
        return removed

    def container_options(self) -> dict:
        """Every isolation setting of a worker container (also shown by `sandbox check`)."""
        s = self.settings
        from docker.types import LogConfig, Mount

        config = {**self.worker_config(), "contained": True}
        return dict(
            image=s.image,
            command=["python3", "-I", f"{WORKER_IN_CONTAINER}/__main__.py", json.dumps(config)],
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
            stdin_open=True,
            tty=False,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,noexec,nosuid,nodev,size={s.tmpfs_mb}m,mode=1777"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=s.pids,
            mem_limit=s.memory_mb * MB,
            memswap_limit=s.memory_mb * MB,
            nano_cpus=int(s.cpus * 1e9),
            environment={},
            mounts=[Mount(target=WORKER_IN_CONTAINER, source=str(WORKER_DIR), type="bind", read_only=True)],
            log_config=LogConfig(type=LogConfig.types.NONE),
            ipc_mode="none",
            hostname="sandbox",
            working_dir="/tmp",
            labels={LABEL: "1", LABEL_OWNER: owner_label()},
            detach=True,
        )

    def start_worker(self) -> Transport:
        container = self.client.containers.create(**self.container_options())
        try:
            sock = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            container.start()
        except Exception:
            container.remove(force=True)
            raise
        transport = DockerTransport(container, sock)
        self._mine.add(transport)
        return transport

    def close(self) -> None:
        for t in list(self._mine):
            t.kill()
