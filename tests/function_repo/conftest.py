"""Shared set-up for the function store's tests: a fresh real git repository per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnforge.function_repo import FunctionRepo


@pytest.fixture
def repo(tmp_path: Path) -> FunctionRepo:
    """A fresh function repository (real git) in a temp directory."""
    r = FunctionRepo.init(tmp_path / "agent-fns", task="gsm8k")
    yield r
    r.close()
