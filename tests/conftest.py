"""Session-wide test set-up shared by every part's tests.

Git needs an identity to commit; the tests give it one through the environment so that a
clean CI machine and a developer's machine behave the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parent / "data"  # small verbatim slices, licences beside them

for _k, _v in {
    "GIT_AUTHOR_NAME": "fnforge-tests",
    "GIT_AUTHOR_EMAIL": "tests@fnforge.invalid",
    "GIT_COMMITTER_NAME": "fnforge-tests",
    "GIT_COMMITTER_EMAIL": "tests@fnforge.invalid",
}.items():
    os.environ.setdefault(_k, _v)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """Slices of the real datasets (GSM8K, TabMWP, MATH) shipped in tests/data, in their own
    formats and file names; the whole files are for benchmarks/evaluator_fidelity.py."""
    return DATASETS
