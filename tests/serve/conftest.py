"""Shared set-up for the server's tests: the sandbox image, and one served repository per session.

The repository is only read by the servers, so one per session is enough; a test that needs
other settings (a smaller queue) makes its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fnforge.config import SandboxSettings
from fnforge.sandbox import build_image


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The Docker sandbox image (built once if missing; a missing engine fails here, never skips)."""
    settings = SandboxSettings(backend="docker")
    build_image(settings)
    return settings.image


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Path:
    """A repository whose step 1 holds serve_helpers.MODULES, on the Docker sandbox with 2 workers."""
    from serve_helpers import make_repo

    repo = make_repo(tmp_path_factory.mktemp("served") / "agent-fns")
    root = repo.root
    repo.close()
    return root
