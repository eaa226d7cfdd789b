"""The tool schema is derived from the module, never stored, and never executes the module."""

from __future__ import annotations

import pytest

from fnforge.function_repo import tool_schema
from fnforge.function_repo.schema import arguments_disagreement

SOURCE = '''
from typing import Literal, Optional
import pandas as pd

PACKAGES = ["pandas"]


def lookup(table: dict[str, list[str]], column: str, mode: Literal["sum", "mean"] = "sum",
           limit: Optional[int] = None, frame: "pd.DataFrame" = None, *, title: str | None = None) -> float:
    """Aggregate one column of a table.

    Rows that are not numbers are skipped.

    Args:
        table: columns by name
        column: the column to aggregate,
            spelled as in the table.
        mode (str): how to aggregate
    Returns:
        the aggregate
    """
    raise RuntimeError("never executed by tool_schema")
'''


def test_schema_is_derived_from_signature_and_docstring():
    schema = tool_schema(SOURCE)
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "lookup"
    assert fn["description"] == "Aggregate one column of a table.\n\nRows that are not numbers are skipped."
    params = fn["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["table", "column", "mode", "limit", "frame", "title"]  # strict: all of them
    assert params["additionalProperties"] is False
    props = params["properties"]
    assert props["table"]["type"] == "object"
    assert props["table"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    assert props["column"]["description"] == "the column to aggregate, spelled as in the table."
    assert props["mode"]["enum"] == ["sum", "mean"] and "default" not in props["mode"]  # strict refuses it
    assert props["mode"]["description"] == 'how to aggregate (default: "sum")'
    assert props["limit"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert "type" not in props["frame"]  # no JSON form (the static gate refuses it): "any value"
    assert "title" in props  # a parameter named title survives stripping pydantic's titles


def test_schema_of_a_module_that_does_not_parse_is_a_value_error():
    with pytest.raises(ValueError, match="does not parse"):
        tool_schema("def f(:\n")
    with pytest.raises(ValueError, match="no public function"):
        tool_schema("def _private() -> None:\n    pass\n")


def test_declared_arguments_that_disagree_with_the_code_are_reported_and_the_code_wins():
    declared = {"type": "object", "properties": {"table": {"type": "string"}, "col": {"type": "string"}}}
    why = arguments_disagreement(declared, SOURCE, "lookup")
    assert why is not None and "col" in why
    agree = {"type": "object", "properties": {
        k: {} for k in ["table", "column", "mode", "limit", "frame", "title"]}}  # fmt: skip
    assert arguments_disagreement(agree, SOURCE, "lookup") is None
    assert arguments_disagreement({}, SOURCE, "lookup") is None


def test_parameters_named_like_python_names_keep_their_types():
    src = 'def f(json: str, copy: int, model_config: str, _x: int = 1) -> int:\n    """d"""\n    return 0\n'
    props = tool_schema(src)["function"]["parameters"]["properties"]
    assert props == {
        "json": {"type": "string"}, "copy": {"type": "integer"}, "model_config": {"type": "string"},
        "_x": {"type": "integer", "description": "(default: 1)"},
    }  # fmt: skip
