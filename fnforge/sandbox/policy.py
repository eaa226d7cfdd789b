"""The policy gate: what a function may import and which language back doors it may not use.

A policy, not the security boundary (the sandbox is): it turns code that could only fail or
misbehave inside the sandbox into a clear rejection before anything runs. Four checks on
each changed module:
- imports: a stdlib allow-list, the sandbox image's packages, and `functions.<name>` for
  names in the candidate's set (and PACKAGES may only name packages the image has);
- attribute routes (attribute_chains.py): no chain from an imported module to a module
  outside the allow-list (`statistics.sys`, `from numpy.ctypeslib import ctypes`), no
  `_private` attribute of a module, no module passed around as a value, no attribute read
  by a computed name; which attributes are modules is data computed in the image
  (`ModuleFacts`, from image.py), so each step of a chain is a dict lookup;
- RestrictedPython's policy compile as a lint: dunder access, exec/eval, frame and
  generator internals (its other rules, e.g. on `_private` names of the function's own
  objects, are not ours);
- ruff with a fixed rule set: syntax errors, undefined names, and the security rules that
  apply to a pure function (exec, eval, pickle, marshal, shell and subprocess calls).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fnforge.protocol import CandidateView, Verdict
from fnforge.sandbox.attribute_chains import ALLOWED_DUNDERS, alternative, route_problems
from fnforge.sandbox.module_facts import ModuleFacts

STDLIB_ALLOWED = frozenset(
    """
    abc array base64 binascii bisect calendar cmath collections colorsys contextlib copy csv
    dataclasses datetime decimal difflib enum fractions functools graphlib hashlib heapq html
    itertools json keyword math numbers operator pprint queue random re reprlib statistics string
    struct textwrap time typing unicodedata uuid zlib __future__ typing_extensions
""".split()
)
FORBIDDEN_CALLS = frozenset(
    {"exec", "eval", "compile", "__import__", "globals", "locals", "vars", "breakpoint"}
)
RUFF_RULES = [
    "E9",
    "F63",
    "F7",
    "F82",  # syntax errors, invalid comparisons and statements, undefined names
    "S102",
    "S307",  # exec, eval
    "S301",
    "S302",  # pickle, marshal
    "S506",  # yaml.load
    "S602",
    "S604",
    "S605",
    "S606",
    "S607",  # shells and processes
    "S310",  # urlopen of arbitrary schemes
]
_RP_QUOTED = re.compile(r'"([^"]+)" is an invalid (?:variable|attribute) name')
_RP_LINE = re.compile(r"^Line (\d+):\s*")


class PolicyGate:
    """Gate "policy": imports, attribute routes, RestrictedPython's lint and ruff, on the changed functions.

    `packages` are the image's Python packages and `facts` what its allowed modules hold
    that are modules (image.image_module_facts); whoever composes the gates reads both once.
    """

    name = "policy"

    def __init__(self, packages: list[str], facts: ModuleFacts):
        self.packages = frozenset(packages)
        self.facts = facts

    def check(self, candidate: CandidateView) -> Verdict:
        """Judge the changed modules; a failure names the function, the line and the rule."""
        started = time.monotonic()
        changed = [n for n in candidate.changed if n in candidate.functions]
        problems: list[dict] = []
        for name in changed:
            problems += self.import_problems(name, candidate.functions[name], set(candidate.functions))
            problems += route_problems(name, candidate.functions[name], self.facts)
            problems += restricted_problems(name, candidate.functions[name])
        problems += ruff_problems({n: candidate.functions[n] for n in changed})
        problems.sort(
            key=lambda p: (changed.index(p["function"]) if p["function"] in changed else 0, p["line"])
        )
        duration = time.monotonic() - started
        if not problems:
            return Verdict.ok(
                self.name,
                f"{len(changed)} changed function(s) follow the policy",
                duration_s=duration,
                details={"checked": changed},
            )
        first = problems[0]
        action = _action_for(candidate, first["function"])
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        reason = (
            f"functions/{first['function']}.py:{first['line']}: {first['message']} [{first['rule']}]{more}"
        )
        return Verdict.fail(
            self.name, reason, action=action, duration_s=duration, details={"problems": problems}
        )

    def import_problems(self, name: str, source: str, siblings: set[str]) -> list[dict]:
        """Imports the sandbox would refuse or could not satisfy."""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return []  # ruff reports it with its line
        out = []

        def bad(node: ast.AST, message: str, rule: str = "import") -> None:
            out.append(
                {"function": name, "line": getattr(node, "lineno", 0), "rule": rule, "message": message}
            )

        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                bad(node, "relative import; write `from functions.<name> import <name>`")
                continue
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
                if node.module == "functions":
                    modules = [f"functions.{a.name}" for a in node.names]
            for module in modules:
                top, _, rest = module.partition(".")
                if top == "functions":
                    sub = rest.split(".")[0]
                    if sub not in siblings:
                        bad(node, f"imports functions.{sub or '?'}, which is not in the candidate's set")
                elif top not in STDLIB_ALLOWED and top not in self.packages:
                    where = (
                        "a standard module outside the allow-list"
                        if top in sys.stdlib_module_names
                        else ("not installed in the sandbox image")
                    )
                    bad(
                        node,
                        f"imports {top!r}, {where}; allowed: the math/text/data modules of the "
                        f"standard library, {', '.join(sorted(self.packages & {'numpy', 'sympy', 'hypothesis'})) or 'no packages'}"
                        f" and functions.<name>{alternative(top)}",
                    )
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in FORBIDDEN_CALLS
            ):
                bad(node, f"calls {node.func.id}(), which the policy forbids", "call")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in {"getattr", "setattr", "delattr", "hasattr"}
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and str(node.args[1].value).startswith("__")
            ):
                bad(node, f"{node.func.id}() of dunder attribute {node.args[1].value!r}", "dunder")
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "PACKAGES" for t in node.targets
            ):
                try:
                    declared = ast.literal_eval(node.value)
                except ValueError:
                    continue
                for package in declared if isinstance(declared, list | tuple) else []:
                    if isinstance(package, str) and package.split(".")[0] not in self.packages:
                        bad(
                            node,
                            f"PACKAGES names {package!r}, which the sandbox image does not have",
                            "packages",
                        )
        return out


def restricted_problems(name: str, source: str) -> list[dict]:
    """RestrictedPython's policy compile, keeping only its security findings."""
    from RestrictedPython import compile_restricted_exec

    try:
        result = compile_restricted_exec(source, filename=f"functions/{name}.py")
    except SyntaxError:
        return []
    out = []
    for error in result.errors:
        quoted = _RP_QUOTED.search(error)
        if quoted and (not quoted.group(1).startswith("__") or quoted.group(1) in ALLOWED_DUNDERS):
            continue  # `_private` helpers are fine for us; so are the plain-string dunders
        if not (quoted or "Exec calls" in error or "Eval calls" in error or "restricted name" in error):
            continue  # e.g. match statements: a language feature, not a back door
        line = _RP_LINE.match(error)
        out.append(
            {
                "function": name,
                "line": int(line.group(1)) if line else 0,
                "rule": "restricted",
                "message": _RP_LINE.sub("", error).rstrip("."),
            }
        )
    return out


def ruff_problems(modules: dict[str, str]) -> list[dict]:
    """ruff's findings with the fixed rule set, run once over all modules."""
    if not modules:
        return []
    with tempfile.TemporaryDirectory(prefix="fnforge-policy-") as tmp:
        root = Path(tmp) / "functions"
        root.mkdir()
        for name, source in modules.items():
            (root / f"{name}.py").write_text(source, encoding="utf-8")
        cmd = [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--target-version",
            "py311",
            "--select",
            ",".join(RUFF_RULES),
            "--output-format",
            "json",
            str(root),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return [
                {
                    "function": next(iter(modules)),
                    "line": 0,
                    "rule": "ruff",
                    "message": f"ruff could not run ({e}); reinstall fnforge (`pip install -e .`)",
                }
            ]
        try:
            findings = json.loads(proc.stdout or "[]")
        except ValueError:
            return [
                {
                    "function": next(iter(modules)),
                    "line": 0,
                    "rule": "ruff",
                    "message": f"ruff failed: {(proc.stderr or proc.stdout).strip()[:300]}",
                }
            ]
    out = []
    for f in findings:
        out.append(
            {
                "function": Path(f.get("filename", "")).stem,
                "line": (f.get("location") or {}).get("row", 0),
                "rule": f.get("code") or "syntax",
                "message": f.get("message", ""),
            }
        )
    return out


def _action_for(candidate: CandidateView, name: str) -> str | None:
    for action in reversed(list(candidate.actions or [])):
        if getattr(action, "name", None) == name:
            return f"{getattr(action, 'action', 'edit')} {name}"
    return None
