"""The static gate: well-formed tools pass; each kind of defect is rejected with its action."""

from __future__ import annotations

import pytest
from repo_helpers import add, module, remove

from fnforge.function_repo import StaticGate, parse_actions
from fnforge.function_repo.static_gate import module_problems
from fnforge.protocol import CandidateView


def _candidate(repo, actions):
    return repo.propose(parse_actions(actions), run="gate")


def test_a_well_formed_function_passes(repo):
    cand = _candidate(repo, [add("mean_of")])
    assert isinstance(cand, CandidateView)
    v = StaticGate().check(cand)
    assert v.passed, v.reason
    assert v.gate == "static"


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        ("f", "PACKAGES = []\ndef f(x: int) -> int:\n    return x\n", "no docstring"),
        (
            "f",
            'PACKAGES = []\ndef f(x) -> int:\n    """d"""\n    return x\n',
            "parameter(s) x of f have no type",
        ),
        ("f", 'PACKAGES = []\ndef f(x: int):\n    """d"""\n    return x\n', "no return annotation"),
        ("f", 'PACKAGES = []\ndef g(x: int) -> int:\n    """d"""\n    return x\n', "named f (found: g)"),
        ("f", module("f") + module("h"), "exactly one public function named f (found: f, h)"),
        ("f", "PACKAGES = []\ndef f(x: int) -> int:\n    return (\n", "does not parse"),
        ("f", module("f", body="return 0\n" + "x = 1\n" * 500), "lines; the limit is 400"),
        ("sum", module("sum"), "shadows a Python builtin"),
        ("match", module("match"), "Python keyword"),
        ("f", module("f").replace("PACKAGES = []", 'PACKAGES = ["a", 3]'), "PACKAGES must be a literal list"),
    ],
)
def test_defects_are_rejected_naming_the_action_and_the_problem(repo, name, code, expected):
    cand = _candidate(repo, [{"action": "add_function", "name": name, "description": "d", "code": code}])
    v = StaticGate().check(cand)
    assert not v.passed
    assert expected in v.reason
    assert v.action == f"add_function {name}"
    assert v.reason.startswith(f"add_function {name}: ")


def test_actions_that_do_not_fit_the_set_are_rejected(repo):
    assert not StaticGate().check(_candidate(repo, [remove("ghost")])).passed
    repo.run_step([add("mean_of")], [StaticGate()])
    v = StaticGate().check(_candidate(repo, [add("mean_of")]))
    assert not v.passed and "already exists; use revise_function" in v.reason


def test_sibling_imports_must_name_functions_in_the_set(repo):
    caller = add("double_mean", head="from functions.mean_of import mean_of\n", body="return 2 * mean_of(xs)")
    assert StaticGate().check(_candidate(repo, [caller])).passed is False
    assert repo.run_step([add("mean_of"), caller], [StaticGate()]).accepted
    v = StaticGate().check(_candidate(repo, [remove("mean_of")]))  # would break double_mean
    assert not v.passed and "double_mean imports functions.mean_of" in v.reason


def test_only_changed_functions_are_checked_in_full(repo):
    assert repo.run_step([add("mean_of")], [StaticGate()]).accepted
    strict = StaticGate(max_bytes=10)  # the existing mean_of would fail this limit
    v = strict.check(_candidate(repo, [remove("mean_of")]))
    assert v.passed, v.reason


def test_a_module_without_packages_is_rejected():
    problems = module_problems("f", 'def f(x: int) -> int:\n    """d"""\n    return x\n')
    assert problems == ["module has no PACKAGES list; declare third-party imports, e.g. PACKAGES = []"]


def test_actions_declare_packages_for_the_author_when_the_code_does_not(repo):
    [a] = parse_actions([{"action": "add_function", "name": "f", "packages": ["sympy"],
                          "code": 'import sympy\n\ndef f(x: int) -> int:\n    """d"""\n    return x\n'}])  # fmt: skip
    assert "PACKAGES = ['sympy']" in a.code and module_problems("f", a.code) == []


def test_a_property_test_file_that_does_not_parse_is_rejected(repo):
    v = StaticGate().check(_candidate(repo, [add("mean_of", tests="def test_(:\n")]))
    assert not v.passed and "tests/test_mean_of.py does not parse" in v.reason
