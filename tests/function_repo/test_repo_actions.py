"""Actions: the seed paper's schema, AutoGen's looser form, and clear errors for bad input."""

from __future__ import annotations

import ast
import json

import pytest
from repo_helpers import add

from fnforge.function_repo import ActionError, load_actions, parse_actions, tool_schema
from fnforge.function_repo.static_gate import module_problems


def test_full_form_action_keeps_the_module_and_summarizes_itself():
    [a] = parse_actions([add("mean_of")])
    assert a.action == "add_function" and a.summary == "add mean_of"
    assert "def mean_of(xs: list[float]) -> float:" in a.code
    assert module_problems("mean_of", a.code) == []


def test_autogen_body_without_def_gets_a_typed_def_written_from_arguments_and_description():
    [a] = parse_actions([{
        "action": "add_function", "name": "scale", "description": "Multiply a number by a factor.",
        "arguments": json.dumps({"x": {"type": "number", "description": "the number"},
                                 "factor": {"type": "integer"}}),
        "packages": "sympy numpy",
        "code": "import math\nreturn x * factor",
    }])  # fmt: skip
    assert a.packages == ["sympy", "numpy"]
    assert module_problems("scale", a.code) == [], a.code
    schema = tool_schema(a.code)["function"]
    assert schema["description"].startswith("Multiply a number by a factor.")
    assert schema["parameters"]["properties"]["x"]["type"] == "number"
    assert schema["parameters"]["properties"]["x"]["description"] == "the number"
    assert schema["parameters"]["properties"]["factor"]["type"] == "integer"
    assert sorted(schema["parameters"]["required"]) == ["factor", "x"]
    tree = ast.parse(a.code)
    assert any(isinstance(n, ast.Assign) and n.targets[0].id == "PACKAGES" for n in tree.body)
    assert "PACKAGES = ['sympy', 'numpy']" in a.code


def test_autogen_def_without_annotations_is_annotated_from_arguments():
    [a] = parse_actions([{
        "action": "add_function", "name": "evaluate_expression", "description": "Evaluate an expression.",
        "arguments": '{"expression": {"type": "string", "description": "the expression"}}',
        "packages": "sympy",
        "code": "from sympy import sympify\n\ndef evaluate_expression(expression):\n    return str(sympify(expression))",
    }])  # fmt: skip
    assert module_problems("evaluate_expression", a.code) == [], a.code
    props = tool_schema(a.code)["function"]["parameters"]["properties"]
    assert props["expression"]["type"] == "string"


def test_short_verbs_and_remove_without_code_are_accepted():
    acts = parse_actions([{"action": "remove", "name": "old"}, {**add("f"), "action": "add"}])
    assert [a.summary for a in acts] == ["remove old", "add f"]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([{"action": "add_function", "code": "x"}], "action 0: field 'name' is missing"),
        ([add("ok"), {"action": "frobnicate", "name": "x"}], "action 1 (x): field 'action' is 'frobnicate'"),
        ([{"action": "add_function", "name": "x"}], "action 0 (x): add_function needs `code`"),
        ([{"action": "remove_function", "name": "../../etc/passwd"}], "is not a Python identifier"),
        ([{"action": "add_function", "name": "f", "arguments": "{nope", "code": "return 1"}], "not JSON"),
        ([], "the list of actions is empty"),
        ("add mean_of", "expected a JSON list of actions"),
        ([3], "action 0: expected an object"),
    ],
)
def test_bad_actions_raise_one_clear_message_naming_the_item_and_field(obj, expected):
    with pytest.raises(ActionError) as e:
        parse_actions(obj)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_load_actions_reports_files_that_are_missing_or_not_json(tmp_path):
    with pytest.raises(ActionError, match="not found"):
        load_actions(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[{'action': 'add_function'}]")
    with pytest.raises(ActionError, match=r"bad.json: not JSON \(line 1"):
        load_actions(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"actions": [add("f")]}))
    assert [a.name for a in load_actions(good)] == ["f"]


def test_autogen_annotations_respect_a_future_import_and_module_docstring():
    code = '"""Tools."""\nfrom __future__ import annotations\n\ndef f(x):\n    return x\n'
    [a] = parse_actions([{"action": "add_function", "name": "f", "description": "Echo.",
                          "arguments": '{"x": {"type": "string"}}', "packages": "", "code": code}])  # fmt: skip
    assert module_problems("f", a.code) == [], a.code
    assert a.code.index("from __future__") < a.code.index("from typing import Any")
