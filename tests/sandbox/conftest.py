"""Shared, real sandbox fixtures: the image and warm pools of real Docker containers.

A test that needs Docker fails when there is none (the fixture raises); it never skips.
The pools are session-scoped, so the suite pays for container start-up once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from fnforge.config import SandboxSettings
from fnforge.sandbox import SandboxPool, build_image, image_module_facts, open_pool
from fnforge.sandbox.module_facts import ModuleFacts

LIMITS = dict(timeout_s=5.0, memory_mb=256, pids=64, tmpfs_mb=16, output_limit_bytes=65536, cpus=1.0)


@pytest.fixture(scope="session")
def docker_settings() -> SandboxSettings:
    """Docker backend settings with the limits the adversarial cases name."""
    settings = SandboxSettings(backend="docker", pool=1, **LIMITS)
    build_image(settings)  # idempotent: returns at once when the image is current
    return settings


@pytest.fixture(scope="session")
def module_facts(docker_settings: SandboxSettings) -> ModuleFacts:
    """What the image's allowed modules hold that are modules (computed in the image once, then cached)."""
    return image_module_facts(docker_settings)


@pytest.fixture(scope="session")
def pool(docker_settings: SandboxSettings) -> Iterator[SandboxPool]:
    """One warm Docker worker shared by the adversarial cases (so 'the worker survived' is observable)."""
    with open_pool(docker_settings, size=1) as p:
        assert p.backend_name == "docker"
        yield p


@pytest.fixture(scope="session")
def pool2(docker_settings: SandboxSettings) -> Iterator[SandboxPool]:
    """Two warm Docker workers for concurrency and property tests."""
    with open_pool(docker_settings, size=2) as p:
        yield p


@pytest.fixture(scope="session")
def process_pool() -> Iterator[SandboxPool]:
    """The weaker process backend, for the cases that make sense without a container."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open_pool(SandboxSettings(backend="process", **LIMITS), size=1) as p:
            assert p.backend_name == "process"
            yield p
