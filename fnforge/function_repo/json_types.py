"""Parameter annotations as JSON Schema that every function-calling provider takes.

A tool's arguments arrive as JSON, so each parameter's annotation must say which JSON value
it takes, in the subset of JSON Schema that OpenAI's strict mode accepts (the narrowest
common one): every schema has a `type` (or `anyOf`/`enum`), arrays carry `items`, objects
with fixed keys list them all as required with `additionalProperties: false`, and keywords
strict mode refuses (`default`, `prefixItems`, `minItems`, `uniqueItems`, `format`, ...) never
appear. A type with no faithful JSON form (`Any`, `bytes`, a set, a fixed-length tuple, a
DataFrame) raises `Unrepresentable`, whose message names a type to use instead; the static
gate turns that into its verdict.

One exception is allowed and marked: a map, `dict[str, V]`, is a JSON object with free keys,
which strict mode cannot describe (`additionalProperties` must be false there). Its schema is
still valid for ordinary function calling; `strict_problems` reports it, so a caller can
send such a tool without `strict`.

Annotations are read from the AST against a fixed table of names: nothing is imported or run.
"""

from __future__ import annotations

import ast
from typing import Any

SCALARS = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}
NONE_NAMES = {"None", "NoneType"}
LISTS = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection"}
TUPLES = {"tuple", "Tuple"}
MAPS = {"dict", "Dict", "Mapping", "MutableMapping"}
SETS = {"set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet"}
UNIONS = {"Union"}
OPTIONALS = {"Optional"}
LITERALS = {"Literal"}
ANY = {"Any", "object"}
TABLES = {"DataFrame", "Series", "ndarray", "array", "matrix"}
ANNOTATED = {"Annotated"}

# What OpenAI's strict mode accepts in a schema node (anything else is refused there).
STRICT_KEYWORDS = {"type", "description", "enum", "anyOf", "items", "properties", "required",
                   "additionalProperties", "const"}  # fmt: skip
USE_INSTEAD = "str, int, float, bool, a Literal, list[...] or dict[str, ...]"


class Unrepresentable(ValueError):
    """An annotation with no faithful JSON Schema; the message says what to write instead."""


def annotation_schema(node: ast.expr | None) -> dict[str, Any]:
    """The JSON Schema of one parameter annotation; Unrepresentable when there is none."""
    if node is None:
        raise Unrepresentable(f"has no type annotation; annotate it with a JSON type ({USE_INSTEAD})")
    return _schema(node)


def _name(node: ast.expr) -> str | None:
    """The last part of a (dotted) name: `typing.List` -> `List`, `pd.DataFrame` -> `DataFrame`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    return None


def _text(node: ast.expr) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only for a message
        return "this annotation"


def _schema(node: ast.expr) -> dict[str, Any]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "list[int]"
        try:
            return _schema(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            raise Unrepresentable(f"has the annotation {node.value!r}, which does not parse") from None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
        return _union([node.left, node.right])
    if isinstance(node, ast.Subscript):
        return _generic(node)
    name = _name(node)
    if name in SCALARS:
        return {"type": SCALARS[name]}
    if name in NONE_NAMES:
        return {"type": "null"}
    if name in LISTS or name in TUPLES:
        raise Unrepresentable(f"is a bare {name}; say what its items are, e.g. list[str] or list[float]")
    if name in MAPS:
        raise Unrepresentable(f"is a bare {name}; say what its values are, e.g. dict[str, float]")
    raise Unrepresentable(_no_json_form(name or _text(node)))


def _no_json_form(name: str) -> str:
    if name in ANY:
        return f"is {name}, which lets any value through; name the JSON type it takes ({USE_INSTEAD})"
    if name in SETS:
        return f"is a {name}; JSON has no sets: take a list[...] and make the set inside the function"
    if name in {"bytes", "bytearray"}:
        return f"is {name}; JSON has no bytes: take a str"
    if name == "complex":
        return "is complex; JSON has no complex numbers: take two floats (or list[float])"
    if name in TABLES:
        return (f"is a {name}, which has no JSON form; take the table as list[list[str]] (rows) or "
                f"dict[str, list[str]] (columns) and build the {name} inside the function")  # fmt: skip
    return f"is {name}, which has no JSON form; use a JSON type ({USE_INSTEAD})"


def _generic(node: ast.Subscript) -> dict[str, Any]:
    base = _name(node.value)
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base in LITERALS:
        return _literal(args)
    if base in UNIONS:
        return _union(args)
    if base in OPTIONALS:
        return _union([args[0], ast.Constant(None)])
    if base in ANNOTATED:
        return _schema(args[0])
    if base in LISTS:
        return {"type": "array", "items": _schema(args[0])}
    if base in TUPLES:
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            return {"type": "array", "items": _schema(args[0])}  # tuple[float, ...]
        kinds = {_text(a) for a in args}
        use = f"list[{kinds.pop()}]" if len(kinds) == 1 else "separate parameters"
        raise Unrepresentable(
            f"is the fixed-length tuple {_text(node)}, which providers cannot check (no schema with "
            f"`items` describes it); take {use} instead"
        )
    if base in MAPS:
        if len(args) != 2:
            raise Unrepresentable(f"is {_text(node)}; write dict[str, V] with the value type V")
        if _name(args[0]) != "str":
            raise Unrepresentable(
                f"is {_text(node)}; JSON object keys are strings: take dict[str, {_text(args[1])}]"
            )
        return {"type": "object", "additionalProperties": _schema(args[1])}
    raise Unrepresentable(_no_json_form(base or _text(node)))


def _union(members: list[ast.expr]) -> dict[str, Any]:
    options: list[dict[str, Any]] = []
    for member in members:
        schema = _schema(member)
        for option in schema["anyOf"] if set(schema) == {"anyOf"} else [schema]:
            if option not in options:
                options.append(option)
    return options[0] if len(options) == 1 else {"anyOf": options}


def _literal(args: list[ast.expr]) -> dict[str, Any]:
    values = []
    for arg in args:
        try:
            value = ast.literal_eval(arg)
        except ValueError:
            raise Unrepresentable(f"has the Literal value {_text(arg)}, which is not a constant") from None
        if not (value is None or isinstance(value, str | int | float | bool)):
            raise Unrepresentable(f"has the Literal value {value!r}; use str, int, float or bool values")
        values.append(value)
    kinds = []
    for v in values:
        kind = "null" if v is None else SCALARS[type(v).__name__]
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def strict_problems(schema: Any, where: str = "parameters") -> list[str]:
    """Where `schema` breaks OpenAI's strict-mode rules (empty: a strict tool may use it)."""
    if not isinstance(schema, dict):
        return [f"{where}: not a schema object"]
    problems = [
        f"{where}: `{k}` is not allowed in strict mode" for k in sorted(set(schema) - STRICT_KEYWORDS)
    ]
    if not ({"type", "anyOf", "enum", "const"} & set(schema)):
        problems.append(f"{where}: has no type")
    types = schema.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if "array" in types and not isinstance(schema.get("items"), dict):
        problems.append(f"{where}: an array without `items`")
    if "object" in types and isinstance(schema.get("additionalProperties"), dict):
        problems.append(f"{where}: a map with free keys (strict mode describes only objects with fixed keys)")
        problems += strict_problems(schema["additionalProperties"], f"{where}.*")
    elif "object" in types:
        props = schema.get("properties")
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: an object must have `additionalProperties: false`")
        if not isinstance(props, dict):
            problems.append(f"{where}: an object without `properties`")
        else:
            if sorted(schema.get("required", [])) != sorted(props):
                problems.append(f"{where}: every property must be required (optional ones nullable)")
            for key, sub in props.items():
                problems += strict_problems(sub, f"{where}.{key}")
    if isinstance(schema.get("items"), dict):
        problems += strict_problems(schema["items"], f"{where}[]")
    for i, sub in enumerate(schema.get("anyOf", [])):
        problems += strict_problems(sub, f"{where}|{i}")
    return problems
