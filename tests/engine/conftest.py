"""Shared real parts for the engine tests: one warm Docker sandbox pool per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fnforge.config import SandboxSettings


@pytest.fixture(scope="session")
def docker_pool() -> Iterator[object]:
    """A real Docker sandbox pool (missing Docker or image = failure, never a skip)."""
    from fnforge.sandbox import open_pool

    with open_pool(SandboxSettings(backend="docker", pool=2, timeout_s=5.0), 2) as pool:
        yield pool
