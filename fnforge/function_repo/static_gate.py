"""The static gate: the checks on a candidate that need nothing but the source text.

It is the cheapest gate, so it runs first: a module that does not parse, has no
docstring, leaves a parameter unannotated or takes a type with no JSON form (the tool
schema could not describe it) never reaches the sandbox. It is a policy for
well-formed tools, not a security boundary (the sandbox is).
"""

from __future__ import annotations

import ast
import builtins
import keyword
from typing import Any

from fnforge.function_repo.json_types import Unrepresentable, annotation_schema
from fnforge.function_repo.schema import parameters
from fnforge.protocol import CandidateView, Verdict

MAX_BYTES = 20_000
MAX_LINES = 400
_BUILTINS = set(dir(builtins))


def name_problem(name: str) -> str | None:
    """Why a function name cannot be used (a file name, an import name and a tool name)."""
    if not name.isidentifier() or not name.isascii():
        return f"{name!r} is not a valid Python identifier"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name!r} is a Python keyword; choose another name"
    if name in _BUILTINS:
        return f"{name!r} shadows a Python builtin; choose another name"
    if name.startswith("_"):
        return f"{name!r} starts with '_', which marks it private; a tool must be public"
    return None


def module_problems(
    name: str, source: str, max_bytes: int = MAX_BYTES, max_lines: int = MAX_LINES
) -> list[str]:
    """Every static problem of `functions/<name>.py` (empty when it is well-formed)."""
    problems = []
    if (p := name_problem(name)) is not None:
        return [p]
    size = len(source.encode())
    lines = source.count("\n") + 1
    if size > max_bytes:
        problems.append(f"module is {size} bytes; the limit is {max_bytes}")
    if lines > max_lines:
        problems.append(f"module is {lines} lines; the limit is {max_lines}")
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return problems + [f"does not parse: line {e.lineno}: {e.msg}"]
    public = [
        n for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_")
    ]  # fmt: skip
    if [n.name for n in public] != [name]:
        found = ", ".join(n.name for n in public) or "none"
        return problems + [f"needs exactly one public function named {name} (found: {found})"]
    fn = public[0]
    if isinstance(fn, ast.AsyncFunctionDef):
        problems.append(f"{name} is `async def`; tools are plain functions")
    args = fn.args
    every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    missing = [a.arg for a in every if a.annotation is None]
    if missing:
        problems.append(f"parameter(s) {', '.join(missing)} of {name} have no type annotation")
    for arg, _default in parameters(fn):  # the tool schema: every parameter a JSON value
        if arg.annotation is not None:
            try:
                annotation_schema(arg.annotation)
            except Unrepresentable as e:
                problems.append(f"parameter {arg.arg} of {name} {e}")
    if fn.returns is None:
        problems.append(f"{name} has no return annotation (write e.g. `-> float`)")
    if not (ast.get_docstring(fn) or "").strip():
        problems.append(f"{name} has no docstring; it becomes the tool's description")
    packages = [s for s in tree.body if _assigns(s, "PACKAGES")]
    if not packages:
        problems.append("module has no PACKAGES list; declare third-party imports, e.g. PACKAGES = []")
    elif not _is_str_list(packages[-1].value):
        problems.append("PACKAGES must be a literal list of strings, e.g. PACKAGES = ['sympy']")
    return problems


def sibling_imports(source: str) -> set[str]:
    """Names of other functions a module imports as `from functions.<other> import ...`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "functions" and len(parts) > 1:
                found.add(parts[1])
            elif node.module == "functions":
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "functions" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _assigns(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    return isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name


def _is_str_list(node: Any) -> bool:
    return isinstance(node, ast.List | ast.Tuple) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    )


class StaticGate:
    """Gate "static": parse, one public function named like its module, annotations,
    docstring, PACKAGES, size limits, a usable name, and actions that fit the set.

    Only the candidate's changed functions are checked in full (the rest passed before);
    every function is checked for imports of siblings that no longer exist.
    """

    name = "static"

    def __init__(self, max_bytes: int = MAX_BYTES, max_lines: int = MAX_LINES):
        self.max_bytes = max_bytes
        self.max_lines = max_lines

    def check(self, candidate: CandidateView) -> Verdict:
        """Judge the candidate; the failing verdict names the action, the function and why."""
        problems: list[tuple[str, str]] = []  # (action label, problem)
        present = set(candidate.base_functions)
        last_action: dict[str, str] = {}
        for action in candidate.actions:
            label = f"{action.action} {action.name}"
            last_action[action.name] = label
            if action.action == "add_function" and action.name in present:
                problems.append((label, f"{action.name} already exists; use revise_function to change it"))
            elif action.action in {"revise_function", "remove_function"} and action.name not in present:
                verb = action.action.split("_")[0]
                problems.append((label, f"cannot {verb} {action.name}: the set has no such function"))
            if action.action == "remove_function":
                present.discard(action.name)
            else:
                present.add(action.name)
        for fname in candidate.changed:
            label = last_action.get(fname, f"revise_function {fname}")
            for p in module_problems(
                fname, candidate.functions.get(fname, ""), self.max_bytes, self.max_lines
            ):
                problems.append((label, p))
            test_src = candidate.tests.get(fname)
            if test_src is not None:
                try:
                    ast.parse(test_src)
                except SyntaxError as e:
                    problems.append(
                        (label, f"tests/test_{fname}.py does not parse: line {e.lineno}: {e.msg}")
                    )
        for fname, source in sorted(candidate.functions.items()):
            for other in sorted(sibling_imports(source) - set(candidate.functions)):
                label = last_action.get(other, last_action.get(fname, f"revise_function {fname}"))
                problems.append((label, f"{fname} imports functions.{other}, which is not in the set"))
        if not problems:
            n = len(candidate.changed)
            return Verdict.ok(self.name, f"{n} changed function{'s' if n != 1 else ''} well-formed")
        label, first = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return Verdict.fail(
            self.name,
            f"{label}: {first}{more}",
            action=label,
            details={"problems": [f"{lab}: {p}" for lab, p in problems]},
        )
