"""The one small interface every sandbox backend implements (like an httpx transport).

The pool asks a backend for warm workers and never learns whether a container or a local
subprocess answers; which one is configuration (`[sandbox] backend`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from fnforge.config import SandboxSettings
from fnforge.sandbox.transport import Transport

WORKER_DIR = Path(__file__).with_name("worker")  # the stdlib-only worker package
WORKER_MAIN = WORKER_DIR / "__main__.py"  # run as `python3 -I WORKER_MAIN CONFIG`
# the property runner and its sibling, sent as sources with each `proptest` request (imports first)
RUNNER_MODULES = (Path(__file__).with_name("proptypes.py"), Path(__file__).with_name("proprunner.py"))
MB = 1024 * 1024


class Sandbox(ABC):
    """Starts workers under one isolation mechanism and cleans up after them."""

    name: str = "sandbox"
    contained: bool = False  # True when each worker has its own PID namespace and cgroup

    def __init__(self, settings: SandboxSettings):
        self.settings = settings

    @abstractmethod
    def start_worker(self) -> Transport:
        """A fresh worker process, started and ready for a ping."""

    @abstractmethod
    def packages(self) -> list[str]:
        """Third-party Python packages code may import in this sandbox."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing
        """Release everything the backend still holds (workers are killed by their transports)."""

    def worker_config(self) -> dict:
        """The worker's start-up configuration (its only argument)."""
        return {"output_limit": self.settings.output_limit_bytes}
