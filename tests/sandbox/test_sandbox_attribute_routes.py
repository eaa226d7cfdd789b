"""The import policy holds: no route from an allowed module to os, sys or ctypes (issue 25).

Which attributes of the allowed modules are modules comes from the real image (the session's
`module_facts`); the generated tests walk every chain of depth <= 3 it lists.
"""

from __future__ import annotations

import json
import keyword
from collections import defaultdict
from pathlib import Path

import pytest
from candidates import Action, Candidate, module

from fnforge.sandbox import PolicyGate, image_packages

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def gate(docker_settings, module_facts) -> PolicyGate:
    """The policy gate exactly as a training step composes it."""
    return PolicyGate(image_packages(docker_settings), module_facts)


def judge(gate: PolicyGate, functions: dict[str, str]):
    actions = [Action("add_function", n) for n in functions]
    return gate.check(Candidate(functions=functions, changed=list(functions), actions=actions))


ATTACKS = {  # the forms an attacker tried: each passed the gates before this policy
    "a private module attribute": (
        "import random",
        "return random._os.getpid()",
        "'_os', private to module random",
    ),
    "a public one in typing": (
        "import typing",
        "return typing.sys.platform",
        "reaches module 'sys' (typing.sys)",
    ),
    "in statistics": ("import statistics", "return statistics.sys.platform", "'sys' (statistics.sys)"),
    "in fractions, aliased": ("import fractions as fr", "return fr.sys.platform", "'sys' (fractions.sys)"),
    "imported from": ("from statistics import sys", "return sys.platform", "'sys' (statistics.sys)"),
    "imported from, aliased": ("from typing import sys as s", "return s.platform", "'sys' (typing.sys)"),
    "a numpy submodule": ("import numpy.ctypeslib", "return str(numpy.ctypeslib.ctypes.CDLL)", "'ctypes'"),
    "a numpy submodule, aliased": ("import numpy.ctypeslib as c", "return str(c.ctypes)", "'ctypes'"),
    "from a numpy submodule": ("from numpy.ctypeslib import ctypes", "return str(ctypes)", "'ctypes'"),
    "a module bound to a name": (
        "import statistics",
        "s = statistics\nreturn s.sys.platform",
        "statistics.sys",
    ),
    "a constant getattr": (
        "import statistics",
        "return getattr(statistics, 'sys').platform",
        "statistics.sys",
    ),
    "a lazy attribute": ("import six", "return str(six.moves.cPickle)", "'pickle' (six.moves.cPickle)"),
    "a function importing by name": (
        "from sympy.external import import_module",
        "return str(import_module('os'))",
        "imports any module by name (sympy.external.import_module)",
    ),
}


@pytest.mark.parametrize("form", sorted(ATTACKS))
def test_each_route_to_a_forbidden_module_is_refused_naming_chain_and_module(gate, form):
    header, body, expected = ATTACKS[form]
    verdict = judge(
        gate, {"f": module("f", body, params="", returns="str", header=header + "\nPACKAGES = []\n")}
    )
    assert not verdict.passed and verdict.gate == "policy"
    assert any(expected in p["message"] for p in verdict.details["problems"]), verdict.details


def test_a_sympy_route_to_os_is_refused(gate, module_facts):
    chain = next(
        r for r in module_facts.forbidden_chains() if r.chain.startswith("sympy.") and r.reaches == "os"
    )
    verdict = judge(gate, {"f": module("f", f"return str({chain.chain})", params="", returns="str",
                                       header="import sympy\nPACKAGES = ['sympy']\n")})  # fmt: skip
    assert not verdict.passed
    assert f"reaches module 'os' ({chain.chain})" in verdict.reason


DYNAMIC = {
    "getattr with a computed name": ("return getattr(x, name)", "getattr() with a computed attribute name"),
    "vars": ("return vars(x)", "calls vars()"),
    "__dict__": ("return x.__dict__", "__dict__"),
    "__globals__": ("return f.__globals__", "__globals__"),
    "__subclasses__": ("return object.__subclasses__()", "__subclasses__"),
    "eval": ("return eval(name)", "eval"),
    "attrgetter with a computed name": (
        "return operator.attrgetter(name)(x)",
        "operator.attrgetter() with a computed name",
    ),
    "attrgetter of a private name": ("return operator.attrgetter('_os')(x)", "private attribute"),
}


@pytest.mark.parametrize("route", sorted(DYNAMIC))
def test_each_dynamic_route_stays_refused(gate, route):
    body, expected = DYNAMIC[route]
    source = module(
        "f", body, params="x: int, name: str", returns="object", header="import operator\nPACKAGES = []\n"
    )
    verdict = judge(gate, {"f": source})
    assert not verdict.passed, route
    assert any(expected in p["message"] for p in verdict.details["problems"]), verdict.details


def test_a_module_passed_stored_or_written_is_refused(gate):
    cases = {
        "return str([statistics][0])": "uses module statistics",
        "return str(operator.attrgetter('sys')(statistics))": "uses module statistics",
        "statistics.mean = len\nreturn ''": "sets or deletes an attribute of module statistics",
        "import numpy\nreturn str(numpy.linalg)": "uses module numpy.linalg",
    }
    for body, expected in cases.items():
        header = "import operator\nimport statistics\nPACKAGES = []\n"
        verdict = judge(gate, {"f": module("f", body, params="", returns="str", header=header)})
        assert not verdict.passed and expected in verdict.reason, (body, verdict.reason)


def test_private_imports_star_imports_and_unknown_submodules_are_refused(gate):
    cases = {
        "import numpy._core": "part '_core' is private",
        "from random import _inst": "'_inst', private to module random",
        "from typing import *": "hides what it binds",
        "import numpy.no_such_module": "does not import in the sandbox image",
    }
    for header, expected in cases.items():
        verdict = judge(gate, {"f": module("f", "return x", header=header + "\nPACKAGES = []\n")})
        assert not verdict.passed and expected in verdict.reason, (header, verdict.reason)


def test_the_error_names_what_to_use_instead(gate):
    verdict = judge(gate, {"f": module("f", "return pickle.dumps(x)", returns="bytes",
                                       header="import pickle\nPACKAGES = []\n")})  # fmt: skip
    assert "imports 'pickle'" in verdict.reason and "use `json`" in verdict.reason
    verdict = judge(
        gate, {"f": module("f", "return len(re.copyreg.__name__)", header="import re\nPACKAGES = []\n")}
    )
    assert "reaches module 'copyreg' (re.copyreg)" in verdict.reason and "copy.deepcopy" in verdict.reason


def test_lawful_module_use_passes_version_name_submodules_and_aliases(gate):
    body = (
        "la = np.linalg\n"
        "major = int(np.__version__.split('.')[0]) + len(np.linalg.__name__)\n"
        "value = float(la.norm(np.array([x, 0.0]))) + float(linalg.det(np.eye(2)))\n"
        "value += float(parse_expr('2*y').subs('y', x)) + math.pi * major + stats.fmean([x])\n"
        "return value + float(getattr(math, 'tau')) + (1.0 if hasattr(math, 'e') else 0.0)"
    )
    header = (
        "from __future__ import annotations\n\nimport math\nimport numpy as np\nimport statistics as stats\n"
        "from numpy import linalg\nfrom sympy.parsing.sympy_parser import parse_expr\n\n"
        "PACKAGES = ['numpy', 'sympy']\n"
    )
    verdict = judge(gate, {"f": module("f", body, params="x: float", returns="float", header=header)})
    assert verdict.passed, verdict.details


def _chain_functions(facts) -> tuple[dict[str, str], dict[tuple[str, int], str]]:
    """One function per allowed top-level module, a line per forbidden chain of depth <= 3 (and its
    `from <module> import <attribute>` form); returns the sources and {(function, line): chain}."""
    by_top = defaultdict(list)
    for route in facts.forbidden_chains(max_depth=3):
        parts = route.chain.split(".")
        if all(p.isidentifier() and not keyword.iskeyword(p) for p in parts):  # others need getattr
            by_top[parts[0]].append(route)
    functions, expected = {}, {}
    for n, (top, routes) in enumerate(sorted(by_top.items())):
        name = f"chains_{n}"
        lines = [f"import {top}", "", "PACKAGES = []", "", "", f"def {name}() -> None:", '    """Chains."""']
        for route in routes:
            lines.append(f"    print({route.chain})")
            expected[(name, len(lines))] = route.chain
            *names, last = route.chain.split(".")[1:]
            holder = facts.module_held(top, names)
            if holder is not None:  # the chain's last step is an attribute of a module: import it from there
                lines.append(f"    from {holder} import {last}")
                expected[(name, len(lines))] = route.chain
        functions[name] = "\n".join(lines) + "\n"
    return functions, expected


def test_every_chain_of_depth_3_to_a_forbidden_module_is_refused_at_the_gate(gate, module_facts):
    functions, expected = _chain_functions(module_facts)
    assert len(expected) >= 500  # today's image: 770 chains from 35 allowed modules, most in two forms
    verdict = judge(gate, functions)
    refused = {
        (p["function"], p["line"]) for p in verdict.details["problems"] if p["rule"] in {"route", "private"}
    }
    missing = {key: chain for key, chain in expected.items() if key not in refused}
    assert not missing, f"{len(missing)} chains passed, e.g. {sorted(missing.values())[:5]}"


def test_a_lawful_function_class_and_constant_of_every_allowed_module_passes(gate, module_facts):
    functions, used = {}, 0
    for n, (top, picked) in enumerate(sorted(module_facts.samples.items())):
        if top == "__future__":
            continue  # its one lawful use, `from __future__ import annotations`, is in the test above
        uses = [f"    print({top}.{attribute})" for attribute in picked.values()]
        used += len(uses)
        name = f"uses_{n}"
        functions[name] = "\n".join(
            [
                f"import {top}",
                "",
                "PACKAGES = []",
                "",
                "",
                f"def {name}() -> None:",
                '    """Uses."""',
                *uses,
                "",
            ]
        )
    assert len(functions) >= 40 and used >= 90
    verdict = judge(gate, {k: v for k, v in functions.items() if "\n    print" in v})
    assert verdict.passed, verdict.details["problems"][:5]


def test_the_demo_edits_pass_the_policy_but_the_one_meant_to_fail(gate):
    functions: dict[str, str] = {}
    failed = []
    for n, step in enumerate(json.loads((EXAMPLES / "demo_edits.json").read_text(encoding="utf-8")), 1):
        for action in step:
            if action["action"] == "remove_function":
                functions.pop(action["name"], None)
            else:
                functions[action["name"]] = action["code"]
        changed = [a["name"] for a in step if a["action"] != "remove_function"]
        actions = [Action(a["action"], a["name"]) for a in step]
        if not gate.check(Candidate(functions=dict(functions), changed=changed, actions=actions)).passed:
            failed.append(n)
    assert failed == [7]  # the scripted syntax error
