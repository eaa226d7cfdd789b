"""Checking a tool call's arguments against the tool's schema before the sandbox is asked.

A wrong call costs a worker round trip and comes back as a Python TypeError from inside the
sandbox; checked here, it costs microseconds and the caller learns which argument is wrong
in the schema's own words. The check is jsonschema's (Draft 2020-12, the dialect pydantic
writes), plus one rule the schema leaves open: a name the function does not take is refused.
The derived schemas follow OpenAI's strict mode, which lists every parameter as required; a
parameter with a Python default may still be left out here, and the default applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

from fnforge.serve.errors import ServeError


class ArgumentCheck:
    """The compiled check of one tool's arguments; `problem(args)` says what is wrong, or None."""

    def __init__(self, schema: dict[str, Any], tool: str = "the tool", optional: Iterable[str] = ()):
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            raise ServeError(f"{tool}: its derived schema is not valid JSON Schema ({e.message})") from None
        leave_out = set(optional)
        if leave_out and "required" in schema:
            schema = {**schema, "required": [n for n in schema["required"] if n not in leave_out]}
        self._validator = Draft202012Validator(schema)
        self._names = set(schema.get("properties", {}))

    def problem(self, arguments: dict[str, Any]) -> str | None:
        """One line naming the first wrong argument and why, or None when the call may go ahead."""
        unknown = sorted(set(arguments) - self._names)
        if unknown:
            takes = ", ".join(sorted(self._names)) or "no arguments"
            return f"unknown argument {', '.join(unknown)}; the tool takes {takes}"
        error = best_match(self._validator.iter_errors(arguments))
        if error is None:
            return None
        where = ".".join(str(p) for p in error.absolute_path)
        return f"{where}: {error.message}" if where else error.message
