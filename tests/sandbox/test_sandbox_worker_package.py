"""The worker is a small stdlib-only package that runs on its own, wherever its folder is.

It is mounted into the image, whose Python has nothing of fnforge: so it may import only
the standard library and itself, and it must start from a bare copy of its folder.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from fnforge.protocol import set_hash
from fnforge.sandbox.backend import WORKER_DIR, WORKER_MAIN
from fnforge.sandbox.process_backend import ProcessTransport
from fnforge.sandbox.transport import WorkerClient

MAX_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    found = sorted(WORKER_DIR.glob("*.py"))
    assert WORKER_MAIN in found and len(found) >= 8, found
    return found


def test_every_module_imports_only_the_standard_library_and_its_own_package():
    std = set(sys.stdlib_module_names)
    wrong = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            wrong += [f"{path.name}: {n}" for n in names if n.split(".")[0] not in std]
    assert not wrong, wrong


def test_each_module_is_one_small_concept():
    sizes = {p.name: len(p.read_text().splitlines()) for p in _modules()}
    assert max(sizes.values()) <= MAX_LINES, sizes
    assert all(ast.get_docstring(ast.parse(p.read_text())) for p in _modules())


def test_no_function_of_the_worker_is_longer_than_80_lines():
    """Long functions hid their state in strings (the old `call`, 129 lines): phases instead."""
    lengths = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths[f"{path.name}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert len(lengths) >= 40, lengths  # the reader saw the package's functions, methods included
    too_long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    assert not too_long, too_long


def test_a_bare_copy_of_the_folder_serves_calls_under_an_isolated_interpreter(tmp_path):
    """`python3 -I folder/__main__.py`: no sys.path entry, no fnforge installed, just the files."""
    folder = tmp_path / "elsewhere"
    shutil.copytree(WORKER_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    config = {"output_limit": 65536, "contained": False}
    proc = subprocess.Popen(
        ["/usr/bin/python3", "-I", str(folder / "__main__.py"), json.dumps(config)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        cwd=tmp_path, start_new_session=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    client = WorkerClient(ProcessTransport(proc, str(tmp_path / "work")))
    try:
        assert client.request({"op": "ping"}, 10)["ok"]
        functions = {"twice": 'def twice(x: int) -> int:\n    """Double."""\n    return 2 * x\n'}
        key = set_hash(functions)
        assert client.request({"op": "load", "set": key, "modules": functions, "timeout": 10}, 15)["ok"]
        reply = client.request(
            {"op": "call", "set": key, "name": "twice", "args": {"x": 21}, "timeout": 5}, 10
        )
        assert reply["ok"] and json.loads(reply["value_json"]) == 42
        leak = 'def leak() -> str:\n    """Where am I."""\n    import sys\n    return repr(sys.path)\n'
        key = set_hash({"leak": leak})
        assert client.request({"op": "load", "set": key, "modules": {"leak": leak}, "timeout": 10}, 15)["ok"]
        reply = client.request({"op": "call", "set": key, "name": "leak", "args": {}, "timeout": 5}, 10)
        assert reply["ok"] and str(folder) not in reply["value_json"]  # the folder is not on sys.path
    finally:
        client.kill()
