"""The engine asks the sandbox through its seam: the pool says which packages code may import.

The policy gate and the optimizer's prompt both name the third-party packages of the sandbox
the candidates run in; they ask the pool (`SandboxPool.packages()`, its backend's answer),
never the image or the host behind it.
"""

from __future__ import annotations

import pytest

from fnforge.config import SandboxSettings
from fnforge.engine.step_gates import candidate_gates
from fnforge.sandbox import WeakSandboxWarning, open_pool


def test_the_policy_gate_allows_what_the_docker_pool_says_its_sandbox_offers(docker_pool) -> None:
    offered = docker_pool.packages()
    assert "sympy" in offered and "hypothesis" in offered  # the image's label, read by its backend
    _, policy, _ = candidate_gates(SandboxSettings(backend="docker"), docker_pool)
    assert sorted(policy.packages) == offered


def test_a_process_pool_offers_the_hosts_packages_and_the_gate_follows_it() -> None:
    with pytest.warns(WeakSandboxWarning), open_pool(SandboxSettings(backend="process", pool=1), 1) as pool:
        offered = pool.packages()
        _, policy, _ = candidate_gates(SandboxSettings(backend="process"), pool)
    assert "pytest" in offered and "typer" in offered  # this interpreter's own packages
    assert sorted(policy.packages) == offered
