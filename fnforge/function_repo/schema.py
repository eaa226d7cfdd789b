"""The OpenAI tool schema of a function, derived from its module (signature + docstring).

The schema is never stored next to the code: storing it twice lets the two drift apart.
Parameter types come from `json_types` (annotations read from the AST, never imported or
run), in the form OpenAI's strict mode accepts: every parameter is required (a default is
named in its description), `additionalProperties` is false, arrays carry `items`.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from fnforge.function_repo.json_types import Unrepresentable, annotation_schema

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Params|Returns?|Raises|Yields?|Examples?|Notes?)\s*:\s*$"
)
_ARG_LINE = re.compile(r"^\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def public_function(
    tree: ast.Module, name: str | None = None
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The module's public function: the one named `name`, else the first without a leading `_`."""
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for fn in defs:
        if (name is not None and fn.name == name) or (name is None and not fn.name.startswith("_")):
            return fn
    return None


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """Split a docstring into its description and the per-parameter texts of `Args:`."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section = None
    current = None
    for line in doc.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group(1).lower()
            current = None
            continue
        if section is None:
            summary.append(line)
        elif section in {"args", "arguments", "parameters", "params"}:
            am = _ARG_LINE.match(line)
            if am and (current is None or len(line) - len(line.lstrip()) <= params[current][1]):
                current = am.group(1)
                params[current] = (am.group(2).strip(), len(line) - len(line.lstrip()))  # type: ignore[assignment]
            elif current and line.strip():
                text, indent = params[current]  # type: ignore[misc]
                params[current] = (f"{text} {line.strip()}".strip(), indent)  # type: ignore[assignment]
    description = "\n".join(summary).strip()
    return description, {k: v[0] for k, v in params.items()}  # type: ignore[index]


def parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[ast.arg, ast.expr | None]]:
    """The parameters a tool call may pass, each with its default expression (None: none)."""
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True)) + list(
        zip(args.kwonlyargs, args.kw_defaults, strict=True)
    )
    return [(arg, default) for arg, default in pairs if arg.arg not in {"self", "cls"}]


def defaulted_parameters(source: str, name: str | None = None) -> list[str]:
    """The parameters of a module's public function that have a default.

    Strict-mode schemas list every parameter as required (the default is named in its
    description), so a model always passes them all; a caller that checks arguments for
    a client other than a model (`fnforge serve`) may still let these be left out.
    """
    fn = public_function(ast.parse(source), name)
    return [] if fn is None else [arg.arg for arg, default in parameters(fn) if default is not None]


def _default_text(default: ast.expr) -> str:
    try:
        return json.dumps(ast.literal_eval(default))
    except (ValueError, TypeError, SyntaxError):
        return ast.unparse(default)


def tool_schema(source: str, name: str | None = None) -> dict[str, Any]:
    """The OpenAI tool schema `{"type": "function", "function": {name, description, parameters}}`.

    Derived from the module's public function: parameter types from the annotations, the
    description and parameter texts from the docstring. Every parameter is required (strict
    mode wants that); one with a default says so in its description, so a model passes it.
    A type with no JSON form (code older than the static gate's check) becomes "any value".
    Raises ValueError when the source does not parse or has no public function.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ValueError(f"the module does not parse (line {e.lineno}: {e.msg})") from None
    fn = public_function(tree, name)
    if fn is None:
        raise ValueError(f"no public function{f' named {name}' if name else ''} in the module")
    description, texts = _docstring_parts(ast.get_docstring(fn) or "")
    properties: dict[str, Any] = {}
    for arg, default in parameters(fn):
        try:
            prop = annotation_schema(arg.annotation)
        except Unrepresentable:
            prop = {}
        text = texts.get(arg.arg, "")
        if default is not None:
            text = f"{text} (default: {_default_text(default)})".strip()
        properties[arg.arg] = {**prop, "description": text} if text else prop
    schema = {"type": "object", "properties": properties, "required": list(properties)}
    schema["additionalProperties"] = False
    return {
        "type": "function",
        "function": {"name": fn.name, "description": description, "parameters": schema},
    }


def _json_types(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    found = set(t) if isinstance(t, list) else ({t} if isinstance(t, str) else set())
    for sub in schema.get("anyOf", []):
        found |= _json_types(sub)
    return found - {"null"}


def arguments_disagreement(arguments: dict[str, Any], source: str, name: str) -> str | None:
    """Why an action's declared `arguments` differ from the code's signature, or None.

    The code wins (the schema is derived from it); the verdict says so, so the author of
    the action learns that their declared arguments were ignored.
    """
    if not arguments:
        return None
    try:
        derived = tool_schema(source, name)["function"]["parameters"]
    except ValueError:
        return None
    declared = arguments.get("properties", {}) or {}
    code_props = derived.get("properties", {})
    problems = []
    if set(declared) != set(code_props):
        problems.append(f"parameters {sorted(declared)} declared, {sorted(code_props)} in the code")
    for pname in sorted(set(declared) & set(code_props)):
        want, have = _json_types(declared[pname]), _json_types(code_props[pname])
        if want and have and not (want & have) and not ({"integer"} <= want and "number" in have):
            problems.append(f"{pname} declared {'/'.join(sorted(want))}, code says {'/'.join(sorted(have))}")
    return "; ".join(problems) or None


__all__ = ["tool_schema", "arguments_disagreement", "parameters", "public_function"]
