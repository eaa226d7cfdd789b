"""The OpenAI tool schema of a function, derived from its module (signature + docstring).

The schema is never stored next to the code: storing it twice lets the two drift apart.
Annotations are evaluated by walking the AST against a fixed table of known names, so a
module from the optimizer is never imported or executed on the host; a type the table does
not know becomes "any value" (`{}`) in the schema.
"""

from __future__ import annotations

import ast
import collections.abc as cabc
import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, create_model

_KNOWN: dict[str, Any] = {
    "int": int, "float": float, "str": str, "bool": bool, "bytes": bytes, "complex": complex,
    "list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset,
    "None": None, "NoneType": None, "Any": Any, "object": Any,
    "List": list, "Dict": dict, "Tuple": tuple, "Set": set, "FrozenSet": frozenset,
    "Optional": Optional, "Union": Union, "Literal": Literal,
    "Sequence": cabc.Sequence, "Mapping": cabc.Mapping, "Iterable": cabc.Iterable,
    "MutableMapping": cabc.MutableMapping, "MutableSequence": cabc.MutableSequence,
}  # fmt: skip
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


def annotation_type(node: ast.expr | None) -> Any:
    """Turn an annotation's AST into a Python type without executing anything."""
    if node is None:
        return Any
    try:
        return _eval(node)
    except Exception:  # an annotation we cannot read means "any value", never a crash
        return Any


def _eval(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return None
        if isinstance(node.value, str):  # a string annotation: "list[int]"
            return _eval(ast.parse(node.value, mode="eval").body)
        return Any
    if isinstance(node, ast.Name):
        return _KNOWN.get(node.id, Any)
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional
        return _KNOWN.get(node.attr, Any)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return Union[_eval(node.left), _eval(node.right)]  # noqa: UP007
    if isinstance(node, ast.Subscript):
        base = _eval(node.value)
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base is Literal:
            return Literal[tuple(ast.literal_eval(e) for e in elts)]
        args = tuple(_eval(e) for e in elts)
        if base is Any:
            return Any
        return base[args if len(args) > 1 else args[0]]
    return Any


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


def _strip_titles(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _strip_titles(v) for k, v in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _strip_titles(out[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [_strip_titles(v) for v in out[key]]
    if isinstance(out.get("$defs"), dict):
        out["$defs"] = {k: _strip_titles(v) for k, v in out["$defs"].items()}
    return out


def tool_schema(source: str, name: str | None = None) -> dict[str, Any]:
    """The OpenAI tool schema `{"type": "function", "function": {name, description, parameters}}`.

    Derived from the module's public function: parameter types from the annotations (via a
    pydantic model), the description and parameter texts from the docstring. Raises
    ValueError when the source does not parse or has no public function.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ValueError(f"the module does not parse (line {e.lineno}: {e.msg})") from None
    fn = public_function(tree, name)
    if fn is None:
        raise ValueError(f"no public function{f' named {name}' if name else ''} in the module")
    description, texts = _docstring_parts(ast.get_docstring(fn) or "")
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = list(zip(positional, defaults, strict=True)) + list(
        zip(args.kwonlyargs, args.kw_defaults, strict=True)
    )
    fields: dict[str, Any] = {}
    for arg, default in params:
        if arg.arg in {"self", "cls"}:
            continue
        if default is None:
            value: Any = ...
        else:
            try:
                value = ast.literal_eval(default)
            except (ValueError, SyntaxError, TypeError):
                value = None
        desc = texts.get(arg.arg) or None
        # internal field names + aliases: parameters may be called `json`, `copy` or `_x`
        fields[f"p{len(fields)}"] = (
            annotation_type(arg.annotation),
            Field(value, alias=arg.arg, description=desc),
        )
    try:
        model = create_model(f"{fn.name}_arguments", **fields)  # type: ignore[call-overload]
        parameters = _strip_titles(model.model_json_schema(by_alias=True))
    except Exception:  # a type pydantic cannot describe: fall back to untyped parameters
        parameters = {
            "type": "object",
            "properties": {
                a.arg: ({"description": texts[a.arg]} if a.arg in texts else {}) for a, _ in params
            },
            "required": [a.arg for a, d in params if d is None],
        }
    parameters.setdefault("properties", {})
    parameters.setdefault("required", [])
    return {
        "type": "function",
        "function": {"name": fn.name, "description": description, "parameters": parameters},
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


__all__ = ["tool_schema", "annotation_type", "arguments_disagreement", "public_function"]
