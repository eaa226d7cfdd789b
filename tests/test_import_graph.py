"""The import graph of fnforge: no cycles (lazy imports included) and one-way dependencies.

DESIGN.md: `engine` uses `function_repo`, `sandbox` and `evaluators`; those three never import
each other or `engine`; only `fnforge/protocol.py` and `fnforge/config.py` sit below them all.
Every `import` statement counts wherever it stands: at module level, inside a function, under
`if TYPE_CHECKING:`, and `importlib.import_module(...)` calls whose name is written in the code
(an f-string such as `f"fnforge.engine.{name}"` stands for every module it could name).
Read with `ast`, so nothing is imported and no import order can hide an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fnforge

ROOT = Path(fnforge.__file__).parent
PARTS = ("function_repo", "sandbox", "evaluators")
BELOW_ALL = {"fnforge", "fnforge.protocol", "fnforge.config"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The fnforge module an imported dotted name loads (its longest prefix that is a module)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imported_names(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every dotted module name the source of `module` may import."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:  # `from pkg import sub` loads pkg.sub; `from pkg import obj`, pkg
                sub = f"{source}.{alias.name}"
                names.add(sub if sub in modules else source)
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                prefix = str(arg.values[0].value)
                names.update(m for m in modules if m.startswith(prefix))
    return names


def _is_import_module(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}) or (
        isinstance(func, ast.Attribute) and func.attr in {"import_module", "__import__"}
    )


def import_graph() -> dict[str, set[str]]:
    """{module: the fnforge modules it imports}, self-edges dropped."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {_target(n, modules) for n in _imported_names(module, path, modules)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fnforge" else None


def test_the_graph_reader_sees_lazy_and_type_checking_imports(tmp_path):
    """The reader itself: imports inside functions, under TYPE_CHECKING, relative ones and
    import_module calls all make edges, so a cycle built from them is found."""
    modules = {"fnforge.a.x": tmp_path / "x.py", "fnforge.a.y": tmp_path / "y.py", "fnforge.a": tmp_path}
    (tmp_path / "x.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fnforge.a.y import Y\n"
    )
    (tmp_path / "y.py").write_text("def f():\n    from . import x\n")
    x_names = _imported_names("fnforge.a.x", tmp_path / "x.py", modules)
    y_names = _imported_names("fnforge.a.y", tmp_path / "y.py", modules)
    graph = {
        "fnforge.a.x": {t for n in x_names if (t := _target(n, modules))},
        "fnforge.a.y": {t for n in y_names if (t := _target(n, modules))},
    }
    assert find_cycles(graph) == [["fnforge.a.x", "fnforge.a.y"]]
    (tmp_path / "y.py").write_text("import importlib\nimportlib.import_module(f'fnforge.a.{n}')\n")
    assert "fnforge.a.x" in _imported_names("fnforge.a.y", tmp_path / "y.py", modules)


def test_no_import_cycles_in_fnforge():
    """No module can reach itself through imports, lazy ones included."""
    graph = import_graph()
    assert len(graph) > 50, "the reader found too few modules; is fnforge where it should be?"
    cycles = find_cycles(graph)
    shown = "; ".join(" <-> ".join(c) for c in cycles)
    assert not cycles, f"import cycles in fnforge: {shown}"


def test_function_repo_sandbox_and_evaluators_stand_alone():
    """function_repo, sandbox and evaluators import only themselves, protocol.py and config.py."""
    wrong = []
    for module, targets in sorted(import_graph().items()):
        part = _part(module)
        if part not in PARTS:
            continue
        for target in sorted(targets):
            if target in BELOW_ALL or _part(target) == part:
                continue
            wrong.append(f"{module} imports {target}")
    assert not wrong, "dependencies must point from engine down, never across: " + "; ".join(wrong)


def test_protocol_and_config_sit_below_every_part():
    """protocol.py and config.py import nothing else of fnforge (every part may import them)."""
    graph = import_graph()
    for module in ("fnforge.protocol", "fnforge.config"):
        assert graph[module] <= BELOW_ALL, f"{module} imports {sorted(graph[module] - BELOW_ALL)}"


# a third-party SDK and the one package of fnforge allowed to import it (STYLE.md "Seams")
SDK_HOMES = {"openai": "fnforge.engine.llm", "ray": "fnforge.engine.executors.ray"}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_each_sdk_is_imported_only_inside_its_seam():
    """openai only under engine/llm/, ray only under engine/executors/ray/: no other module sees them."""
    modules = _modules()
    wrong = []
    for module, path in sorted(modules.items()):
        for name in sorted(_imported_names(module, path, modules)):
            sdk = name.split(".")[0]
            if sdk in SDK_HOMES and not _inside(module, SDK_HOMES[sdk]):
                wrong.append(f"{module} imports {name}")
    assert not wrong, "an SDK must stay inside its seam: " + "; ".join(wrong)


def test_executors_sit_below_the_scorer_and_the_interface_below_them():
    """Executors never import what uses them (scorer, gates, trainer, the chooser in experiment);
    executors/base.py imports no implementation."""
    users = {f"fnforge.engine.{m}" for m in ("evaluation", "experiment", "trainer", "validation", "precheck")}
    wrong = []
    for module, targets in sorted(import_graph().items()):
        if not _inside(module, "fnforge.engine.executors"):
            continue
        for target in sorted(targets):
            below_base = module == "fnforge.engine.executors.base" and _inside(
                target, "fnforge.engine.executors"
            )
            if target in users or _inside(target, "fnforge.engine.trainer") or below_base:
                wrong.append(f"{module} imports {target}")
    assert "fnforge.engine.executors.ray.driver" in import_graph(), "the executors package moved?"
    assert not wrong, "executors point down, never up to their users: " + "; ".join(wrong)
