"""The sandbox part reads as small modules of short functions (STYLE: <= 450 and <= 80 lines).

Its long functions (the worker's `call`, the runner's `derived_properties`, `run_probes`,
the property host's `proptest`) hid their state in strings; each now goes in named phases.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fnforge.sandbox

ROOT = Path(fnforge.sandbox.__file__).parent
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _sources() -> dict[str, str]:
    found = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted(ROOT.rglob("*.py"))}
    assert "worker/loaded_sets.py" in found and "proprunner.py" in found, sorted(found)
    return found


def test_no_sandbox_module_is_longer_than_450_lines():
    sizes = {name: len(text.splitlines()) for name, text in _sources().items()}
    assert not {n: k for n, k in sizes.items() if k > MAX_MODULE_LINES}, sizes


def test_no_sandbox_function_is_longer_than_80_lines():
    lengths = {}
    for name, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{name}:{node.lineno} {node.name}"] = node.end_lineno - node.lineno + 1
    assert len(lengths) > 150, len(lengths)  # the reader saw every function, methods and nested ones
    assert not {n: k for n, k in lengths.items() if k > MAX_FUNCTION_LINES}
