"""The property gate in real containers: derived properties, a set's own tests, and speed."""

from __future__ import annotations

import time

import pytest
from candidates import Action, Candidate, module

from fnforge.config import SandboxSettings
from fnforge.protocol import Gate
from fnforge.sandbox import PropertyGate
from fnforge.sandbox.results import PropertyFailure, PropertyReport


@pytest.fixture(scope="module")
def gate(pool2, docker_settings):
    settings = docker_settings.model_copy(update={"timeout_s": 1.0, "property_examples": 30})
    return PropertyGate(pool2, settings)


def judge(gate, functions, changed, tests=None):
    actions = [Action("add_function", n) for n in changed]
    return gate.check(Candidate(functions=functions, changed=changed, tests=tests or {}, actions=actions))


def test_it_is_a_gate_named_property(gate):
    assert isinstance(gate, Gate) and gate.name == "property"


def test_a_well_behaved_function_passes_every_derived_property(gate):
    source = module("clamp", "return max(lo, min(x, hi)) if lo <= hi else lo", "x: int, lo: int, hi: int")
    verdict = judge(gate, {"clamp": source}, ["clamp"])
    assert verdict.passed, verdict.reason
    checked = verdict.details["checked"]
    for prop in (
        "returns int",
        "returns a JSON value",
        "finishes within 1s",
        "is deterministic",
        "raises only documented exceptions",
    ):
        assert f"clamp: {prop}" in checked


def test_an_undocumented_exception_is_rejected_with_the_smallest_input(gate):
    source = module("mean", "return sum(xs) / len(xs)", "xs: list[float]", "float")
    verdict = judge(gate, {"mean": source}, ["mean"])
    assert not verdict.passed
    assert "raises only documented exceptions" in verdict.reason and "mean(xs=[])" in verdict.reason
    assert verdict.details["failures"][0]["falsifying_example"] == "mean(xs=[])"
    assert verdict.action == "add_function mean"


def test_a_documented_exception_is_allowed(gate):
    doc = "Mean of xs.\n\n    Raises:\n        ZeroDivisionError: when xs is empty.\n    "
    source = module("mean", "return sum(xs) / len(xs)", "xs: list[float]", "float", doc=doc)
    assert judge(gate, {"mean": source}, ["mean"]).passed


def test_a_wrong_return_type_is_rejected(gate):
    verdict = judge(gate, {"label": module("label", "return x", returns="str")}, ["label"])
    assert not verdict.passed and "returns str" in verdict.reason and "label(x=0)" in verdict.reason


def test_randomness_is_rejected_as_nondeterminism(gate):
    source = module("noisy", "return x + random.randint(1, 10 ** 9)", header="import random\nPACKAGES = []\n")
    verdict = judge(gate, {"noisy": source}, ["noisy"])
    assert not verdict.passed and "is deterministic" in verdict.reason


def test_a_function_that_never_finishes_is_rejected_with_its_input(gate):
    source = module("wait", "while x > 3:\n    pass\nreturn x")
    start = time.monotonic()
    verdict = judge(gate, {"wait": source}, ["wait"])
    assert not verdict.passed and "finishes within" in verdict.reason and "wait(x=" in verdict.reason
    assert time.monotonic() - start < 15


def test_a_slow_step_stops_at_the_configured_budget_and_names_the_setting(pool2, docker_settings):
    settings = docker_settings.model_copy(
        update={
            "timeout_s": 1.0,
            "property_examples": 30,
            "property_budget_s": 1.5,
            "property_budget_per_function_s": 0.0,
        }
    )
    source = module("slow", "time.sleep(0.1)\nreturn x", header="import time\nPACKAGES = []\n")
    start = time.monotonic()
    verdict = judge(PropertyGate(pool2, settings), {"slow": source}, ["slow"])
    took = time.monotonic() - start
    assert not verdict.passed and "did not finish within 1.5s" in verdict.reason
    assert "[sandbox] property_budget_s" in verdict.reason
    assert verdict.details["budget_exhausted"] is True  # the worker's answer says so, not its wording
    assert took < 8, f"a 1.5 s budget took {took:.1f}s to enforce"


def test_one_example_over_its_limit_is_not_the_budget_running_out(gate):
    verdict = judge(gate, {"wait": module("wait", "while x > 3:\n    pass\nreturn x")}, ["wait"])
    assert not verdict.passed and verdict.details["budget_exhausted"] is False
    assert "property_budget_s" not in verdict.reason


class _ReportingPool:
    """Stands in for the pool to show what the gate reads from a report: only its fields."""

    backend_name = "stub"

    def __init__(self, report: PropertyReport):
        self.report = report

    def proptest(self, *args, **kwargs) -> PropertyReport:
        return self.report


@pytest.mark.parametrize(
    ("message", "exhausted", "names_the_setting"),
    [
        ("property tests did not finish within 9s", False, False),  # the words alone mean nothing
        ("stopped after 9s", True, True),  # the field alone is enough
    ],
)
def test_the_gate_learns_of_the_budget_from_the_reports_field(message, exhausted, names_the_setting):
    failure = PropertyFailure(function="f", property="finishes within the limit", message=message)
    report = PropertyReport(passed=False, failures=[failure], budget_exhausted=exhausted)
    gate = PropertyGate(_ReportingPool(report), SandboxSettings())
    verdict = judge(gate, {"f": module("f", "return x")}, ["f"])
    assert not verdict.passed and message in verdict.reason
    assert ("[sandbox] property_budget_s" in verdict.reason) is names_the_setting


def test_the_sets_own_tests_run_and_report_the_falsifying_example(gate):
    source = module("inc", "return x + 1")
    good = (
        "from hypothesis import given, strategies as st\nfrom functions.inc import inc\n\n"
        "@given(st.integers())\ndef test_grows(x):\n    assert inc(x) > x\n"
    )
    bad = good + "\n@given(st.integers())\ndef test_wrong(x):\n    assert inc(x) < 100\n"
    assert judge(gate, {"inc": source}, ["inc"], {"inc": good}).passed
    verdict = judge(gate, {"inc": source}, ["inc"], {"inc": bad})
    assert not verdict.passed and "tests/test_inc.py::test_wrong" in verdict.reason
    assert "x=99" in verdict.details["failures"][0]["falsifying_example"]


def test_unchanged_functions_are_not_tested(gate):
    functions = {"broken": module("broken", "raise RuntimeError('boom')"), "fine": module("fine", "return x")}
    assert judge(gate, functions, ["fine"]).passed
    assert not judge(gate, functions, ["broken"]).passed


def test_ten_functions_are_tested_in_under_five_seconds_warm(gate):
    functions = {
        f"f{i}": module(
            f"f{i}", f"return [v * {i} for v in xs if v > lo]", "xs: list[int], lo: int", "list[int]"
        )
        for i in range(10)
    }
    judge(gate, functions, ["f0"])  # warm: the worker has hypothesis imported
    start = time.monotonic()
    verdict = judge(gate, functions, sorted(functions))
    took = time.monotonic() - start
    assert verdict.passed, verdict.reason
    assert took < 5.0, f"property tests for 10 functions took {took:.2f}s"
