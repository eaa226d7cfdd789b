"""The policy gate: imports, RestrictedPython's security lint, and ruff, on changed functions only."""

from __future__ import annotations

import pytest
from candidates import Action, Candidate, module

from fnforge.protocol import Gate
from fnforge.sandbox import PolicyGate

PACKAGES = ["hypothesis", "mpmath", "numpy", "sympy"]


@pytest.fixture(scope="module")
def gate(module_facts) -> PolicyGate:
    """The policy gate with a short package list and the image's real module facts."""
    return PolicyGate(PACKAGES, module_facts)


@pytest.fixture(scope="module")
def judge(gate):
    """Judge one function `name` (plus its siblings) as an added function."""

    def judge_one(source: str, name: str = "f", extra: dict[str, str] | None = None):
        functions = {name: source, **(extra or {})}
        actions = [Action("add_function", name)]
        return gate.check(Candidate(functions=functions, changed=[name], actions=actions))

    return judge_one


def test_it_is_a_gate_named_policy(gate):
    assert isinstance(gate, Gate) and gate.name == "policy"


def test_stdlib_math_image_packages_and_siblings_are_allowed(judge):
    source = module(
        "f",
        "return int(np.floor(math.sqrt(x))) + g(x)",
        header="import math\nimport numpy as np\nfrom functions.g import g\n\nPACKAGES = ['numpy']\n",
    )
    verdict = judge(source, extra={"g": module("g", "return x")})
    assert verdict.passed, verdict.reason


def test_private_helpers_and_match_statements_are_fine(judge):
    source = (
        "PACKAGES = []\n_CACHE = {}\n\ndef _helper(x: int) -> int:\n    return x\n\n"
        "def f(x: int) -> int:\n    '''Doc.'''\n    match x:\n        case 0:\n            return 0\n    return _helper(x)\n"
    )
    assert judge(source).passed


def test_an_import_outside_the_allow_list_is_refused_with_its_line(judge):
    verdict = judge(module("f", "return x", header="import math\nimport os\nPACKAGES = []\n"))
    assert not verdict.passed and verdict.gate == "policy"
    assert verdict.reason.startswith("functions/f.py:2: imports 'os'")
    assert verdict.action == "add_function f"


def test_packages_missing_from_the_image_and_unknown_siblings_are_refused(judge):
    verdict = judge(
        module(
            "f",
            "return x",
            header="import pandas\nfrom functions.ghost import ghost\nPACKAGES = ['pandas']\n",
        )
    )
    messages = [p["message"] for p in verdict.details["problems"]]
    assert any("'pandas', not installed in the sandbox image" in m for m in messages)
    assert any("functions.ghost, which is not in the candidate's set" in m for m in messages)
    assert any("PACKAGES names 'pandas'" in m for m in messages)


def test_relative_imports_are_refused(judge):
    assert (
        "relative import" in judge(module("f", "return x", header="from . import g\nPACKAGES = []\n")).reason
    )


def test_dunder_access_exec_eval_and_frame_internals_are_refused(judge):
    cases = {
        "return x.__class__.__mro__[-1]": "__class__",
        "exec('y = 1')\nreturn x": "Exec calls",
        "return eval('1')": "eval",
        "g = (i for i in [x])\nreturn g.gi_frame.f_lineno": "gi_frame",
        "return getattr(x, '__class__')": "dunder",
        "return __import__('os').getpid()": "__import__",
    }
    for body, expected in cases.items():
        verdict = judge(module("f", body))
        assert not verdict.passed, body
        assert any(expected in p["message"] or expected == p["rule"] for p in verdict.details["problems"]), (
            body,
            verdict.details,
        )


def test_ruff_reports_undefined_names_and_syntax_errors(judge):
    verdict = judge(module("f", "return x + undefined_thing"))
    assert not verdict.passed and any(p["rule"] == "F821" for p in verdict.details["problems"])
    verdict = judge("PACKAGES = []\ndef f(x: int) -> int:\n    return (x\n")
    assert not verdict.passed and "functions/f.py" in verdict.reason


def test_ruff_security_rules_catch_shells(judge):
    verdict = judge(
        module("f", "import subprocess\nreturn subprocess.call('ls', shell=True)", header="PACKAGES = []\n")
    )
    rules = {p["rule"] for p in verdict.details["problems"]}
    assert "S602" in rules and "import" in rules


def test_only_changed_functions_are_checked(module_facts):
    functions = {
        "bad": module("bad", "return x", header="import os\nPACKAGES = []\n"),
        "good": module("good", "return x"),
    }
    assert PolicyGate([], module_facts).check(Candidate(functions=functions, changed=["good"])).passed
    assert not PolicyGate([], module_facts).check(Candidate(functions=functions, changed=["bad"])).passed
