"""Export: the wheel installs with plain pip into a fresh venv and works without fnforge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

from repo_helpers import add

from fnforge.function_repo import StaticGate, tool_schema
from fnforge.function_repo.export import (
    EXPORTS,
    ExportRequest,
    export_tools_json,
    export_wheel,
    relative_imports,
    requirements,
)


def _set(repo):
    caller = add("double_mean", head="from functions.mean_of import mean_of\n", body="return 2 * mean_of(xs)")
    mean = add("mean_of", body="return sum(xs) / len(xs) if xs else 0.0")
    assert repo.run_step([mean, caller], [StaticGate()]).accepted
    return repo


def test_wheel_installs_into_a_fresh_venv_and_its_functions_run(repo, tmp_path):
    _set(repo)
    [wheel] = export_wheel(repo, ExportRequest(out=tmp_path / "dist", name="Agent Tools")).paths
    assert wheel.name.startswith("agent_tools-0.1+step1.g") and wheel.name.endswith("-py3-none-any.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--no-deps",
                          "--disable-pip-version-check", str(wheel)], capture_output=True, text=True)  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    probe = (
        "import json, agent_tools as t\n"
        "print(json.dumps({'double': t.double_mean([1.0, 2.0, 3.0]), 'mean': t.mean_of([2.0, 4.0]),"
        " 'version': t.__version__, 'tools': t.TOOLS}))\n"
        "import importlib.util; assert importlib.util.find_spec('fnforge') is None\n"
    )
    # a fresh venv means no PYTHONPATH either (a checkout on it would make fnforge importable)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["double"] == 4.0 and out["mean"] == 3.0
    assert out["version"] == f"0.1+step1.g{repo.head()[:12]}"
    assert out["tools"] == [tool_schema(repo.functions()[n], n) for n in ["double_mean", "mean_of"]]


def test_tools_json_lists_the_derived_schemas(repo, tmp_path):
    _set(repo)
    [path] = export_tools_json(repo, ExportRequest(out=tmp_path)).paths
    assert path.name == "tools.json"
    assert [t["function"]["name"] for t in json.loads(path.read_text())] == ["double_mean", "mean_of"]


def test_wheel_metadata_requires_the_union_of_packages_and_not_fnforge(repo, tmp_path):
    code = 'import numpy\nimport sklearn\nimport math\nPACKAGES = ["numpy", "sklearn", "math"]\n\n\n' \
           'def size_of(xs: list[float]) -> int:\n    """Count."""\n    return len(xs)\n'  # fmt: skip
    assert repo.run_step(
        [{"action": "add_function", "name": "size_of", "code": code}], [StaticGate()]
    ).accepted
    [wheel] = export_wheel(repo, ExportRequest(out=tmp_path)).paths
    with zipfile.ZipFile(wheel) as zf:
        meta = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("METADATA"))
        record = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("RECORD"))
    assert "Requires-Dist: numpy" in meta and "Requires-Dist: scikit-learn" in meta
    assert "fnforge" not in meta.replace("exported by fnforge", "") and "Requires-Dist: math" not in meta
    assert "agent_fns/size_of.py,sha256=" in record
    assert requirements({"a": 'PACKAGES = ["sympy>=1.12"]'}) == ["sympy>=1.12"]


def test_sibling_imports_become_relative():
    assert relative_imports("from functions.mean_of import mean_of\n") == "from .mean_of import mean_of\n"
    assert relative_imports("    from functions import mean_of\n") == "    from . import mean_of\n"


def test_every_export_format_is_one_registered_export_function():
    """`fnforge export --format` reads this one table; each entry is the `export_<format>` function."""
    assert list(EXPORTS) == ["wheel", "tools-json", "patch", "mcp-config"]
    assert all(f.__name__ == "export_" + name.replace("-", "_") for name, f in EXPORTS.items())
