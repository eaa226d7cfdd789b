"""Small modules with one job: no function in `fnforge/` over 80 lines, no module over 450.

A function's length is its `def` through its last line (decorators and docstring included, as
a reader meets it); nested functions count inside their owner and on their own. Read with
`ast`, so nothing is imported. When a function grows past the bound, split it by phase (as
`Trainer._step` and `render_prompt` were), do not raise the bound.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fnforge

ROOT = Path(fnforge.__file__).parent
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 450


def _sources() -> list[tuple[str, str]]:
    return [
        (str(p.relative_to(ROOT.parent)), p.read_text(encoding="utf-8")) for p in sorted(ROOT.rglob("*.py"))
    ]


def test_the_size_check_reads_every_module() -> None:
    names = [name for name, _ in _sources()]
    assert len(names) > 100 and "fnforge/engine/trainer.py" in names and "fnforge/sandbox/pool.py" in names


def test_no_function_in_fnforge_is_longer_than_80_lines() -> None:
    long = []
    for name, source in _sources():
        for node in ast.walk(ast.parse(source, filename=name)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = node.end_lineno - first + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "functions over 80 lines:\n" + "\n".join(long)


def test_no_module_in_fnforge_is_longer_than_450_lines() -> None:
    long = [
        f"{name} ({n} lines)"
        for name, source in _sources()
        if (n := len(source.splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "modules over 450 lines:\n" + "\n".join(long)
