"""What an annotation and a docstring promise about a function, as property tests read it.

Sent into the sandbox with the property runner (`proprunner.py`, which imports it as a
sibling): hypothesis strategies from parameter annotations (bounded sizes), whether a value
is of the annotated type, equality that treats NaN as NaN, whether a value crosses as
JSON, and the exception types a docstring documents. Plain functions of the standard
library and the strategies module they are given; nothing here calls user code.
"""

import json
import math
import re
import types
import typing

DOCUMENTED_RAISES = re.compile(r":raises?\s+([\w.,\s]+?):")


def documented_raises(doc):
    """Exception names a docstring documents (Google, NumPy and Sphinx styles)."""
    names = set()
    if not doc:
        return names
    lines = doc.expandtabs().splitlines()
    for i, line in enumerate(lines):
        head = line.strip()
        if head in ("Raises:", "Raises"):
            indent = len(line) - len(line.lstrip())
            start = i + 1
            if start < len(lines) and set(lines[start].strip()) == {"-"}:
                start += 1  # NumPy underline
            for item in lines[start:]:
                if not item.strip():
                    if names:
                        break
                    continue
                item_indent = len(item) - len(item.lstrip())
                if item_indent < indent or (item_indent == indent and item.strip().endswith(":") and names):
                    break
                m = re.match(r"\s*([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*(:|$)", item)
                if m and (m.group(2) == ":" or item_indent <= indent + 4):
                    for n in m.group(1).split(","):
                        names.add(n.strip().rsplit(".", 1)[-1])
    for m in DOCUMENTED_RAISES.finditer(doc):
        for n in m.group(1).split(","):
            if n.strip():
                names.add(n.strip().rsplit(".", 1)[-1])
    return names


def strategy_for(tp, st, depth=0):
    """A hypothesis strategy for an annotation (bounded sizes), or None."""
    if depth > 4:
        return None
    if tp is typing.Any or tp is object:
        return st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=10))
    if tp is None or tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-(10**6), 10**6)
    if tp is float:
        return st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    if tp is str:
        return st.text(max_size=20)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(tp, types.UnionType)):
        parts = [strategy_for(a, st, depth + 1) for a in args]
        return None if any(p is None for p in parts) else st.one_of(*parts)
    if origin is typing.Literal:
        return st.sampled_from(list(args))
    if tp in (list, set, frozenset, tuple, dict):
        origin, args = tp, ()
    if origin in (list, set, frozenset):
        inner = strategy_for(args[0] if args else typing.Any, st, depth + 1)
        if inner is None:
            return None
        if origin is list:
            return st.lists(inner, max_size=8)
        return st.sets(inner, max_size=8).map(origin)
    if origin is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            inner = strategy_for(args[0] if args else typing.Any, st, depth + 1)
            return None if inner is None else st.lists(inner, max_size=6).map(tuple)
        parts = [strategy_for(a, st, depth + 1) for a in args]
        return None if any(p is None for p in parts) else st.tuples(*parts)
    if origin is dict:
        key = strategy_for(args[0] if args else str, st, depth + 1)
        value = strategy_for(args[1] if len(args) > 1 else typing.Any, st, depth + 1)
        if key is None or value is None:
            return None
        return st.dictionaries(key, value, max_size=5)
    try:
        return st.from_type(tp)  # resolution failures surface as a note when the run starts
    except Exception:
        return None


def matches(value, tp, depth=0):
    """Whether `value` is of the annotated type (None when the type cannot be checked)."""
    if depth > 6 or tp is typing.Any or tp is object:
        return True
    if tp is None or tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or (hasattr(types, "UnionType") and isinstance(tp, types.UnionType)):
        results = [matches(value, a, depth + 1) for a in args]
        return True if any(r is None or r for r in results) else False
    if origin is typing.Literal:
        return value in args
    if origin in (list, set, frozenset, tuple, dict):
        if not isinstance(value, origin):
            return False
        if origin is dict:
            if len(args) == 2:
                return all(
                    matches(k, args[0], depth + 1) is not False
                    and matches(v, args[1], depth + 1) is not False
                    for k, v in value.items()
                )
            return True
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return len(value) == len(args) and all(
                matches(v, a, depth + 1) is not False for v, a in zip(value, args, strict=True)
            )
        if args:
            return all(matches(v, args[0], depth + 1) is not False for v in value)
        return True
    if isinstance(tp, type):
        return isinstance(value, tp)
    return None


def same(a, b):
    """Equality that treats NaN as equal to NaN (determinism, not arithmetic)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return a is b


def json_problem(value):
    """Why `value` cannot be written as JSON, or None when it can."""
    try:
        json.dumps(value, allow_nan=False)
        return None
    except (TypeError, ValueError, RecursionError) as e:
        return str(e)
