"""The import policy's attribute rule: no chain from an imported module to a forbidden one.

Refusing `import os` is not enough when `statistics.sys`, `random._os`, `from typing import
sys` or `numpy.ctypeslib.ctypes` lead there from an allowed module. This module follows, in
a function's source, every name that holds an imported module (`import m`, `import m.sub as
x`, `from m import a`, aliases of either, and plain `y = x` assignments) through its
attribute chains, and asks `ModuleFacts` (computed in the image: a dict lookup per step)
where each chain leads. It refuses:
- a chain that reaches a module outside the allow-list, naming the chain and the module, or a
  function that imports any module by name (`sympy.external.import_module`);
- a `_private` attribute of a module (RestrictedPython's own rule for names), except the
  dunders in ALLOWED_DUNDERS;
- an import of a module that does not import in the image (its attributes are unknown);
- a module used as a value (passed, stored, returned), and an attribute of a module set or
  deleted: past those the chain cannot be followed from the source;
- dynamic routes: `getattr`/`setattr`/`delattr` and `operator.attrgetter`/`methodcaller`
  with a computed name, `from m import *`.
(`vars`, `eval`, `__dict__`, `__globals__`, `__subclasses__` are refused by policy.py's other
checks.) A policy, not the boundary: anything it misses still runs only in the sandbox.
"""

from __future__ import annotations

import ast

from fnforge.sandbox.module_facts import ANY_MODULE, ModuleFacts, Route

# Dunder attributes of a module a lawful function may read; each is a plain string.
ALLOWED_DUNDERS = {
    # a library's version, to branch on an API that changed between releases (numpy 1 vs 2)
    "__version__",
    # a module's, class's or function's name, to put in a message or a result
    "__name__",
}
# What to use instead of a module the policy forbids, where there is a lawful alternative.
ALTERNATIVES = {
    "sys": "for number limits use `math.inf`, `numpy.finfo(float)` or `numpy.iinfo(int)`",
    "os": "a tool has no files or environment: take the data as an argument",
    "warnings": "return the problem in the result or raise ValueError",
    "builtins": "call the builtin by its own name (e.g. `abs`, `round`)",
    "types": "use `typing` or `collections.abc` for annotations",
    "pickle": "use `json`",
    "copyreg": "use `copy.copy` / `copy.deepcopy`",
    "weakref": "use a plain dict",
    "logging": "return the message in the result",
    "traceback": "return the message in the result",
    "locale": "format with f-strings or `str.format`",
    "zoneinfo": "use `datetime.timezone`",
    "timeit": "use `time.perf_counter`",
    "codecs": "use `str.encode` / `bytes.decode`",
    "gzip": "use `zlib`",
    "io": "build text with `str.join` or `csv` over a list of lines",
    "inspect": "pass what you need as arguments",
    "platform": "a tool's result must not depend on the machine",
}
ATTRIBUTE_CALLS = frozenset({"getattr", "setattr", "delattr", "hasattr"})
NAME_GETTERS = frozenset({"operator.attrgetter", "operator.methodcaller"})

Ref = tuple[str, tuple[str, ...]]  # (module name, attribute names after it)


def alternative(module: str) -> str:
    """'; <what to use instead>' for a forbidden module, or '' where there is no lawful substitute."""
    found = ALTERNATIVES.get(module.split(".")[0])
    return f"; {found}" if found else ""


def route_problems(name: str, source: str, facts: ModuleFacts) -> list[dict]:
    """Every attribute route in `functions/<name>.py` that the policy refuses (see the module doc)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # ruff reports it with its line
    checker = _ChainChecker(name, facts, tree)
    checker.bind_imports()
    checker.bind_assignments()
    checker.check_uses()
    return checker.problems


class _ChainChecker:
    """One module's pass: bind names to module references, then judge each use."""

    def __init__(self, name: str, facts: ModuleFacts, tree: ast.Module):
        self.name, self.facts, self.tree = name, facts, tree
        self.refs: dict[str, set[Ref]] = {}
        self.problems: list[dict] = []
        self._seen: set[tuple[int, str]] = set()
        self.nodes: list[ast.AST] = [tree]  # every node, walked once: the gate runs on every candidate
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in self.nodes:  # grows while it is read: a breadth-first walk
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
                self.nodes.append(child)

    def bad(self, node: ast.AST, message: str, rule: str) -> None:
        line = getattr(node, "lineno", 0)
        if (line, message) not in self._seen:
            self._seen.add((line, message))
            self.problems.append({"function": self.name, "line": line, "rule": rule, "message": message})

    def bind(self, target: str, ref: Ref) -> bool:
        known = self.refs.setdefault(target, set())
        fresh = ref not in known
        known.add(ref)
        return fresh

    def bind_imports(self) -> None:
        """Bind each imported name to the module or attribute it names; judge the import itself."""
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if self.importable(node, alias.name):
                        bound = alias.name if alias.asname else alias.name.split(".")[0]
                        self.bind(alias.asname or bound, (bound, ()))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if not self.importable(node, node.module):
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        self.bad(
                            node,
                            f"`from {node.module} import *` hides what it binds; import the names you use",
                            "import",
                        )
                        continue
                    self.check_chain(
                        node, node.module, (alias.name,), f"from {node.module} import {alias.name}"
                    )
                    self.bind(alias.asname or alias.name, (node.module, (alias.name,)))

    def importable(self, node: ast.AST, module: str) -> bool:
        """True when `module` is allowed and known; refuses private or unknown submodules."""
        if module.split(".")[0] == "functions" or not self.facts.is_allowed(module):
            return False  # siblings and forbidden top-level modules: policy.py judges those
        parts = module.split(".")
        private = next((p for p in parts if p.startswith("_") and p != "__future__"), None)
        if private is not None:
            self.bad(
                node,
                f"imports {module}, whose part {private!r} is private (starts with '_'); import the public module",
                "private",
            )
            return False
        if not self.facts.knows(module):
            self.bad(node, f"imports {module}, which does not import in the sandbox image", "import")
            return False
        return True

    def bind_assignments(self) -> None:
        """Follow `y = <reference>` (and `y: T = ...`, `(y := ...)`) until nothing new is bound."""
        assignments = [a for a in map(_simple_assignment, self.nodes) if a[1] is not None]
        for _ in range(8):
            changed = False
            for targets, value in assignments:
                for ref in self.resolve(value):
                    for target in targets:
                        changed |= self.bind(target, ref)
            if not changed:
                return

    def resolve(self, node: ast.AST) -> set[Ref]:
        """The module references an expression may hold (empty: it holds none we follow)."""
        if isinstance(node, ast.Name):
            return set(self.refs.get(node.id, ()))
        if isinstance(node, ast.Attribute):
            return {(m, (*names, node.attr)) for m, names in self.resolve(node.value)}
        attribute = _constant_getattr(node)
        if attribute is not None:
            return {(m, (*names, attribute[1])) for m, names in self.resolve(attribute[0])}
        return set()

    def check_chain(self, node: ast.AST, module: str, names: tuple[str, ...], written: str = "") -> None:
        """Refuse `module.<names>` if it passes a private attribute of a module or reaches a forbidden one.

        `written` is the chain as the source spells it (by default the node's own text).
        """
        routes = list(self.facts.follow(module, list(names)))
        written = written or (ast.unparse(node) if routes or any(n.startswith("_") for n in names) else "")
        holds_module = {0} | {r.steps for r in routes if not r.forbidden}
        for i, attr in enumerate(names):
            if i in holds_module and attr.startswith("_") and attr not in ALLOWED_DUNDERS:
                held = module if i == 0 else next(r.reaches for r in routes if r.steps == i)
                self.bad(
                    node,
                    f"`{written}` reads {attr!r}, private to module {held} (starts with '_'); use its public names",
                    "private",
                )
                return
        for route in routes:
            if route.forbidden:
                self.bad(node, _forbidden_route(written, route, self.facts), "route")

    def check_uses(self) -> None:
        """Judge every chain, module value, attribute write and dynamic attribute route."""
        for node in self.nodes:
            if isinstance(node, ast.Call):
                self.check_call(node)
            if not isinstance(node, ast.Name | ast.Attribute | ast.Call):
                continue
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                continue  # a binding: its value was judged where it was written
            refs = self.resolve(node)
            if not refs:
                continue
            if self.is_maximal(node):
                for module, names in refs:
                    self.check_chain(node, module, names)
            held = sorted({h for m, names in refs if (h := self.facts.module_held(m, list(names)))})
            if not held:
                continue
            ctx = getattr(self.parents.get(node), "ctx", None)
            if isinstance(self.parents.get(node), ast.Attribute) and not isinstance(ctx, ast.Load):
                self.bad(
                    node,
                    f"sets or deletes an attribute of module {held[0]} (`{ast.unparse(self.parents[node])}`); keep your own state in a local",
                    "module-value",
                )
            elif not self.module_use_is_followed(node):
                written = ast.unparse(node)
                self.bad(
                    node,
                    f"uses module {held[0]} (`{written}`) as a value, which the policy cannot follow; use its attributes where you need them (`{written}.<name>`)",
                    "module-value",
                )

    def is_maximal(self, node: ast.AST) -> bool:
        """True when no attribute access (or constant getattr) continues the chain `node` ends."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return False
        attribute = _constant_getattr(parent) if parent is not None else None
        return not (attribute is not None and attribute[0] is node)

    def module_use_is_followed(self, node: ast.AST) -> bool:
        """True where a module value goes only where the checker follows it."""
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            return True
        parent = self.parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return True
        if isinstance(parent, ast.Call) and _constant_getattr(parent, hasattr_too=True):
            return parent.args[0] is node
        targets, value = _simple_assignment(parent) if parent is not None else ([], None)
        return value is node and bool(targets)

    def check_call(self, node: ast.Call) -> None:
        """Refuse attribute access by a computed name: getattr & co., attrgetter, methodcaller."""
        func = node.func
        if isinstance(func, ast.Name) and func.id in ATTRIBUTE_CALLS and func.id not in self.refs:
            if func.id != "hasattr" and len(node.args) >= 2 and not _is_str(node.args[1]):
                self.bad(
                    node,
                    f"{func.id}() with a computed attribute name, which the policy cannot follow; write the attribute out (`obj.name`) or keep the values in a dict",
                    "dynamic",
                )
            return
        callee = {".".join([m, *names]) for m, names in self.resolve(func)}
        getter = next(iter(callee & NAME_GETTERS), None)
        if getter is None:
            return
        for arg in node.args:
            if not _is_str(arg):
                self.bad(
                    node,
                    f"{getter}() with a computed name, which the policy cannot follow; write the attribute out",
                    "dynamic",
                )
            elif any(part.startswith("_") for part in arg.value.split(".")):
                self.bad(
                    node, f"{getter}({arg.value!r}) reaches a private attribute; use public names", "private"
                )


def _forbidden_route(written: str, route: Route, facts: ModuleFacts) -> str:
    """What is wrong with a route that may not be followed, and what to use instead."""
    if route.reaches == ANY_MODULE:
        return f"`{written}` imports any module by name ({route.chain}), which the policy cannot follow; import what you need"
    if facts.is_allowed(route.reaches):
        return f"`{written}` reaches module {route.reaches!r} ({route.chain}), which did not load when the image was walked"
    return (
        f"`{written}` reaches module {route.reaches!r} ({route.chain}), which the policy forbids"
        + alternative(route.reaches)
    )


def _is_str(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _constant_getattr(node: ast.AST, hasattr_too: bool = False) -> tuple[ast.AST, str] | None:
    """(object, name) for `getattr(obj, "name"[, default])`, else None."""
    names = {"getattr", "hasattr"} if hasattr_too else {"getattr"}
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in names
        and len(node.args) >= 2
        and _is_str(node.args[1])
    ):
        return node.args[0], node.args[1].value
    return None


def _simple_assignment(node: ast.AST) -> tuple[list[str], ast.AST | None]:
    """(target names, value) for `a = b = v`, `a: T = v` and `(a := v)`; ([], None) otherwise."""
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return [t.id for t in node.targets], node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return [node.target.id], node.value
    if isinstance(node, ast.NamedExpr):
        return [node.target.id], node.value
    return [], None
