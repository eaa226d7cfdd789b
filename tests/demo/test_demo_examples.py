"""The demo's bundled files: a verbatim, attributed TabMWP slice and well-formed scripted edits."""

from __future__ import annotations

import json

from demo_helpers import EXAMPLES, demo_steps

from fnforge.function_repo import parse_actions
from fnforge.function_repo.static_gate import module_problems


def test_the_tabmwp_slice_is_a_verbatim_disjoint_100_100_sample_with_its_licence(datasets_dir):
    source = json.loads((datasets_dir / "tabmwp" / "dev1k.json").read_text(encoding="utf-8"))
    train = json.loads((EXAMPLES / "tabmwp" / "train.json").read_text(encoding="utf-8"))
    val = json.loads((EXAMPLES / "tabmwp" / "val.json").read_text(encoding="utf-8"))
    assert len(train) == 100 and len(val) == 100 and not set(train) & set(val)
    # the tests' own TabMWP slice holds some of the demo's problems: those must be verbatim copies
    shared = [pid for pid in {**train, **val} if pid in source]
    assert len(shared) >= 10
    for pid in shared:
        assert source[pid] == {**train, **val}[pid], pid
    assert all(record.keys() == source[shared[0]].keys() for record in {**train, **val}.values())
    readme = (EXAMPLES / "tabmwp" / "README.md").read_text(encoding="utf-8")
    assert "lupantech/PromptPG" in readme and "CC BY-NC-SA 4.0" in readme and "non-commercial" in readme


def test_every_scripted_step_parses_as_actions_and_only_step_7_breaks_the_static_rules():
    steps = demo_steps()
    assert len(steps) == 9
    problems = {}
    for n, step in enumerate(steps, 1):
        actions = parse_actions(step)
        assert 1 <= len(actions) <= 5  # the demo's [training] max_actions
        for a in actions:
            if a.action != "remove_function":
                found = module_problems(a.name, a.code)
                if found:
                    problems[(n, a.name)] = found
    assert list(problems) == [(7, "probability_of")]
    assert "does not parse" in problems[(7, "probability_of")][0]


def test_scripted_functions_use_no_private_names_and_only_stdlib_imports():
    """RestrictedPython's policy refuses names starting with "_"; the sandbox allows the stdlib."""
    import ast
    import sys

    for step in demo_steps():
        for a in step:
            try:
                tree = ast.parse(a["code"])
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Name | ast.arg | ast.FunctionDef):
                    name = getattr(node, "id", None) or getattr(node, "arg", None) or node.name
                    assert not name.startswith("_"), (a["name"], name)
                if isinstance(node, ast.Import | ast.ImportFrom):
                    module = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name) or ""
                    top = module.split(".")[0]
                    assert top == "functions" or top in sys.stdlib_module_names, (a["name"], module)
