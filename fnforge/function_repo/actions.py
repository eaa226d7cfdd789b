"""Actions: the optimizer's edits to a function set (add, revise or remove one function).

The schema is the seed paper's AgentOptimizer tool call (`name`, `description`,
`arguments`, `packages`, `code`). AutoGen's optimizer emits a looser form (`arguments` as a
JSON string mapping parameter names to schemas, `packages` as a space-separated string,
`code` as the body without its `def`); it is accepted too, so its logs can be replayed, and
normalized here into a full module so everything downstream sees one shape.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from fnforge.function_repo.errors import ActionError

ActionKind = Literal["add_function", "revise_function", "remove_function"]
_VERB = {"add_function": "add", "revise_function": "revise", "remove_function": "remove"}
_KIND = {v: k for k, v in _VERB.items()}
_JSON_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "object": "dict",
    "null": "None",
}


class Action(BaseModel):
    """One edit of the function set; `code` is always a full module after validation."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action: ActionKind
    name: str
    description: str = ""
    arguments: dict[str, Any] = {}
    packages: list[str] = []
    code: str = ""
    tests: str | None = None

    @property
    def verb(self) -> str:
        """`add`, `revise` or `remove`: the word used in trailers and summaries."""
        return _VERB[self.action]

    @property
    def summary(self) -> str:
        """A short label such as `add mean_of`, used in trailers, verdicts and the log."""
        return f"{self.verb} {self.name}"

    def brief(self) -> dict[str, Any]:
        """The action without its code, for notes (the code itself lives in the commit)."""
        return {
            "action": self.action,
            "name": self.name,
            "summary": self.summary,
            "description": self.description,
            "arguments": self.arguments,
            "packages": self.packages,
            "has_tests": self.tests is not None,
        }

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        v = v.strip()
        if not v.isidentifier() or not v.isascii():
            raise ValueError(f"{v!r} is not a Python identifier; name functions like mean_of")
        return v

    @field_validator("arguments")
    @classmethod
    def _object_schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            return {}
        if v.get("type") == "object" or "properties" in v:
            return v
        # AutoGen: a mapping of parameter name -> schema; every parameter is required
        return {"type": "object", "properties": v, "required": list(v)}

    @model_validator(mode="wrap")
    @classmethod
    def _complete_code(cls, data: Any, handler: Any) -> Action:
        autogen = False
        if isinstance(data, dict):
            data, autogen = _normalize(data)
        action: Action = handler(data)
        if action.action == "remove_function":
            return action
        if not action.code.strip():
            raise ValueError(f"{action.action} needs `code` (the function's module source)")
        code = complete_module(action, autogen)
        return action.model_copy(update={"code": code}) if code != action.code else action


def _normalize(data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Accept AutoGen's form: arguments as a JSON string, packages as a spaced string."""
    data = dict(data)
    autogen = False
    kind = data.get("action")
    if isinstance(kind, str) and kind in _KIND:
        data["action"] = _KIND[kind]
    args = data.get("arguments")
    if isinstance(args, str):
        autogen = True
        try:
            data["arguments"] = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as e:
            raise ValueError(f"arguments is a string but not JSON ({e.msg})") from None
    elif args is None:
        data.pop("arguments", None)
    pk = data.get("packages")
    if isinstance(pk, str):
        autogen = True
        data["packages"] = pk.replace(",", " ").split()
    elif pk is None:
        data.pop("packages", None)
    if data.get("tests") == "":
        data["tests"] = None
    return data, autogen


def complete_module(action: Action, autogen: bool) -> str:
    """The full module for an action: writes the `def` for a bare body, fills AutoGen gaps,
    and declares `PACKAGES` when the code does not."""
    code = action.code
    tree = _parse(code)
    fn = _top_function(tree, action.name) if tree is not None else None
    has_def = tree is not None and any(
        isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) for n in tree.body
    )
    if fn is None and not has_def and (tree is not None or _parse(textwrap.dedent(code)) is not None):
        code = _write_def(action, textwrap.dedent(code))
    elif fn is not None and autogen and _missing_annotations(fn):
        code = _annotate(tree, fn, action)
    tree = _parse(code)
    if tree is not None and not any(_assigns(s, "PACKAGES") for s in tree.body):
        code = _insert_at(code, tree, f"PACKAGES = {action.packages!r}\n", after_imports=True)
    return code


def parse_actions(obj: Any, where: str = "") -> list[Action]:
    """Validate a list of action objects (or `{"actions": [...]}`, or one object).

    Raises ActionError naming the item index and the field, so a hand-written file or the
    optimizer's output can be fixed from the message alone.
    """
    prefix = f"{where}: " if where else ""
    if isinstance(obj, dict) and "actions" in obj:
        obj = obj["actions"]
    if isinstance(obj, dict):
        obj = [obj]
    if not isinstance(obj, list):
        raise ActionError(f"{prefix}expected a JSON list of actions, got {type(obj).__name__}")
    if not obj:
        raise ActionError(f"{prefix}the list of actions is empty; add at least one action")
    out = []
    for i, item in enumerate(obj):
        if isinstance(item, Action):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise ActionError(
                f"{prefix}action {i}: expected an object with action, name, code; got {type(item).__name__}"
            )
        try:
            out.append(Action.model_validate(item))
        except ValidationError as e:
            err = e.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "action"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                msg = "is missing; every action needs action and name (and code unless it removes)"
            elif err["type"] == "literal_error":
                msg = f"is {err.get('input')!r}; use add_function, revise_function or remove_function"
            name = item.get("name")
            label = f" ({name})" if isinstance(name, str) and name else ""
            where_ = f"field '{field}' " if err["loc"] else ""
            raise ActionError(f"{prefix}action {i}{label}: {where_}{msg}") from None
    return out


def load_actions(path: Path | str) -> list[Action]:
    """Read an actions file (a JSON list of actions) and validate it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ActionError(f"{path}: not found; pass a JSON file with a list of actions") from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise ActionError(f"{path}: cannot be read as text ({e.__class__.__name__})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ActionError(
            f"{path}: not JSON (line {e.lineno} column {e.colno}: {e.msg}); "
            "an actions file holds a JSON list of action objects"
        ) from None
    return parse_actions(obj, where=str(path))


# --- module surgery -------------------------------------------------------------------


def json_schema_annotation(schema: Any) -> str:
    """The Python annotation for a JSON-schema type (AutoGen arguments -> a typed `def`)."""
    if not isinstance(schema, dict):
        return "Any"
    t = schema.get("type")
    if isinstance(t, list):
        parts = [json_schema_annotation({**schema, "type": x}) for x in t]
        return " | ".join(dict.fromkeys(parts))
    if t == "array":
        items = schema.get("items")
        return f"list[{json_schema_annotation(items)}]" if items else "list"
    return _JSON_TYPES.get(t, "Any") if isinstance(t, str) else "Any"


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _top_function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _assigns(node: ast.stmt, name: str) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return isinstance(node, ast.Assign | ast.AnnAssign) and any(
        isinstance(t, ast.Name) and t.id == name for t in targets
    )


def _docstring(action: Action) -> str:
    props = action.arguments.get("properties", {}) if action.arguments else {}
    lines = [action.description.strip() or f"{action.name} (written from an AutoGen action)."]
    described = [(k, v.get("description", "")) for k, v in props.items() if isinstance(v, dict)]
    if any(d for _, d in described):
        lines += ["", "Args:"] + [f"    {k}: {d}".rstrip() for k, d in described]
    text = "\n".join(lines).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if "\n" not in text:
        return f'"""{text}"""'
    return '"""' + text.replace("\n", "\n    ").replace("\n    \n", "\n\n") + '\n    """'


def _params(action: Action) -> tuple[list[str], bool]:
    props = action.arguments.get("properties", {}) if action.arguments else {}
    required = set(action.arguments.get("required", list(props))) if action.arguments else set()
    params, uses_any = [], False
    ordered = sorted(props.items(), key=lambda kv: kv[0] not in required)  # required first
    for pname, schema in ordered:
        if not str(pname).isidentifier():
            continue
        ann = json_schema_annotation(schema)
        uses_any |= "Any" in ann
        if pname in required:
            params.append(f"{pname}: {ann}")
        else:
            params.append(f"{pname}: {ann} | None = None")
    return params, uses_any


def _write_def(action: Action, body: str) -> str:
    params, _ = _params(action)
    lines = body.strip("\n").splitlines()
    header_imports = []
    # leading import lines of an AutoGen body become module imports (they read better there)
    while lines and lines[0].startswith(("import ", "from ")) and "PACKAGES" not in lines[0]:
        header_imports.append(lines.pop(0))
    inner = textwrap.indent("\n".join(lines) or "pass", "    ")
    out = ["from typing import Any", *header_imports, "", f"PACKAGES = {action.packages!r}", "", ""]
    out += [f"def {action.name}({', '.join(params)}) -> Any:", f"    {_docstring(action)}", inner, ""]
    return "\n".join(out)


def _missing_annotations(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
    return fn.returns is None or any(a.annotation is None for a in args) or ast.get_docstring(fn) is None


def _annotate(tree: ast.Module, fn: ast.FunctionDef | ast.AsyncFunctionDef, action: Action) -> str:
    props = action.arguments.get("properties", {}) if action.arguments else {}
    for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        if a.annotation is None:
            a.annotation = ast.parse(json_schema_annotation(props.get(a.arg)), mode="eval").body
    if fn.returns is None:
        fn.returns = ast.Name("Any")
    if ast.get_docstring(fn) is None:
        fn.body.insert(0, ast.Expr(ast.Constant(action.description.strip() or action.name)))
    at = 0  # after a module docstring and `from __future__` imports, which must come first
    while at < len(tree.body) and (
        (at == 0 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant))
        or (isinstance(tree.body[at], ast.ImportFrom) and tree.body[at].module == "__future__")
    ):
        at += 1
    tree.body.insert(at, ast.ImportFrom("typing", [ast.alias("Any")], 0))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _insert_at(code: str, tree: ast.Module, text: str, after_imports: bool) -> str:
    """Insert `text` before the first statement that is not the docstring or an import."""
    lines = code.splitlines(keepends=True)
    at = len(lines)
    for i, node in enumerate(tree.body):
        is_doc = (
            i == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        )
        if is_doc or (after_imports and isinstance(node, ast.Import | ast.ImportFrom)):
            continue
        at = node.lineno - 1
        if node_decorators := getattr(node, "decorator_list", None):
            at = min(d.lineno for d in node_decorators) - 1
        break
    if at == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    gap = ""
    if at < len(lines):
        nxt = next(n for n in tree.body if n.lineno - 1 >= at or getattr(n, "decorator_list", None))
        gap = "\n\n" if isinstance(nxt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else "\n"
    return "".join(lines[:at]) + text + gap + "".join(lines[at:])
