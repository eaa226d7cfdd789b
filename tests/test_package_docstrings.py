"""The docstrings of `fnforge.engine` and `fnforge.cli` list what the packages hold, and stay true.

They are the map a newcomer reads first; a module added or removed without the map changing
fails here, naming the module, so the map cannot drift again.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fnforge

ROOT = Path(fnforge.__file__).parent


def _members(package: Path) -> list[str]:
    modules = [p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__", "app")]
    packages = [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    return sorted(modules + packages)


@pytest.mark.parametrize("package", ["engine", "cli"])
def test_the_package_docstring_names_every_module_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    missing = [m for m in _members(ROOT / package) if f"`{m}`" not in doc and f"`{m}/`" not in doc]
    assert not missing, f"fnforge/{package}/__init__.py does not name: {', '.join(missing)}"
