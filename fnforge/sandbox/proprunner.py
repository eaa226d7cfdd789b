"""Property tests, run *inside* the sandbox: derived properties plus a set's own tests.

The host never imports this for a candidate: the worker receives this file's source with a
`proptest` request and runs it in a forked child whose `functions` package holds the
candidate set, so the image's hypothesis drives untrusted code only in the sandbox.

For each changed function, hypothesis strategies come from the parameter annotations, and
one property checks every example: it returns the annotated type, returns a JSON value,
finishes within the per-call limit, gives equal results on equal inputs, and raises only
exception types its docstring documents (a "Raises:" section or ":raises X:"). Then the
function's own `tests/test_<name>.py` runs. Settings: bounded examples, deadline=None,
no example database, derandomized (a verdict is reproducible). Each call announces itself
to the worker first, so a call that never returns is reported with its input.
"""

import copy
import json
import math
import re
import sys
import time
import types
import typing

DOCUMENTED_RAISES = re.compile(r":raises?\s+([\w.,\s]+?):")
MAX_REPR = 400


class PropertyBroken(AssertionError):
    """A derived property did not hold on one example."""


def short_repr(value, limit=MAX_REPR):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def clip(text, limit):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {clip(text, 500)}" if text else type(exc).__name__


def call_repr(name, kwargs):
    return "{}({})".format(name, ", ".join(f"{k}={short_repr(v, 200)}" for k, v in kwargs.items()))


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
    try:
        json.dumps(value, allow_nan=False)
        return None
    except (TypeError, ValueError, RecursionError) as e:
        return str(e)


def run(modules, tests, changed, examples, call_timeout, load_errors, emit):
    """Run every property for `changed`; return the report as a plain dict."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    try:
        from hypothesis.reporting import with_reporter
    except ImportError:  # pragma: no cover - every supported hypothesis has it
        with_reporter = None

    common = dict(
        max_examples=max(1, int(examples)),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    settings.register_profile("fnforge", **common)
    settings.load_profile("fnforge")
    failures, checked, notes = [], [], []
    if "*" in load_errors:
        err = load_errors["*"]
        return {
            "passed": False,
            "checked": [],
            "notes": [],
            "failures": [
                {
                    "function": ",".join(changed),
                    "property": "imports",
                    "falsifying_example": "",
                    "message": err["message"],
                }
            ],
        }

    for name in changed:
        if name in load_errors:
            failures.append(
                {
                    "function": name,
                    "property": "imports",
                    "falsifying_example": "",
                    "message": load_errors[name]["message"],
                }
            )
            continue
        module = sys.modules.get("functions." + name)
        fn = getattr(module, name, None)
        if not callable(fn):
            failures.append(
                {
                    "function": name,
                    "property": "defines the function",
                    "falsifying_example": "",
                    "message": f"functions/{name}.py defines no function {name!r}",
                }
            )
            continue
        failure = derived_properties(
            name, fn, st, given, settings, common, call_timeout, emit, checked, notes
        )
        if failure:
            failures.append(failure)
        if name in tests:
            failures.extend(
                own_tests(name, tests[name], examples, call_timeout, emit, checked, notes, with_reporter)
            )
    return {"passed": not failures, "failures": failures, "checked": checked, "notes": notes}


def derived_properties(name, fn, st, given, settings, common, call_timeout, emit, checked, notes):
    """One hypothesis run that checks every derived property on each example."""
    import inspect

    try:
        hints = typing.get_type_hints(fn)
    except Exception as e:
        notes.append(f"{name}: annotations could not be resolved ({e}); derived properties skipped")
        return None
    params = {}
    positional = []
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if pname not in hints:
            if param.default is not param.empty:
                continue
            notes.append(f"{name}: parameter {pname} has no annotation; derived properties skipped")
            return None
        strategy = strategy_for(hints[pname], st)
        if strategy is None:
            if param.default is not param.empty:
                continue
            notes.append(
                f"{name}: no strategy for parameter {pname}: {hints[pname]}; derived properties skipped"
            )
            return None
        params[pname] = strategy
        if param.kind == param.POSITIONAL_ONLY:
            positional.append(pname)
    returns = hints.get("return", typing.Any)
    allowed = documented_raises(fn.__doc__)
    props = [
        "returns {}".format(getattr(returns, "__name__", returns)),
        "returns a JSON value",
        f"finishes within {call_timeout:g}s",
        "is deterministic",
        "raises only documented exceptions",
    ]
    checked.extend(f"{name}: {p}" for p in props)
    last = {}

    def one_call(kwargs):
        args = copy.deepcopy(kwargs)
        example = call_repr(name, kwargs)
        emit({"kind": "example", "function": name, "property": props[2], "example": example})
        start = time.perf_counter()
        try:
            value, error = fn(*[args.pop(p) for p in positional], **args), None
        except Exception as e:  # BaseException (SystemExit, KeyboardInterrupt) ends the run below
            value, error = None, e
        elapsed = time.perf_counter() - start
        emit({"kind": "example_done"})
        return value, error, elapsed, example

    def fail(prop, example, message):
        last.update(function=name, property=prop, falsifying_example=example, message=message)
        raise PropertyBroken(f"{prop}: {message}")

    @settings(**common)
    @given(st.fixed_dictionaries(params))
    def prop(kwargs):
        value, error, elapsed, example = one_call(kwargs)
        if elapsed > call_timeout:
            fail(props[2], example, f"took {elapsed:.2f}s; the limit is {call_timeout:g}s")
        if error is not None:
            names = {c.__name__ for c in type(error).__mro__}
            if not names & allowed:
                documented = ", ".join(sorted(allowed)) or "none"
                fail(
                    props[4],
                    example,
                    f"raised {type(error).__name__}: {short_repr(str(error), 200)} (documented: {documented})",
                )
        else:
            if matches(value, returns) is False:
                fail(props[0], example, f"returned {short_repr(value, 200)} of type {type(value).__name__}")
            problem = json_problem(value)
            if problem:
                fail(props[1], example, f"returned {short_repr(value, 200)}, which is not JSON: {problem}")
        value2, error2, _, _ = one_call(kwargs)
        first = ("raise", type(error).__name__) if error is not None else ("value", value)
        second = ("raise", type(error2).__name__) if error2 is not None else ("value", value2)
        if not same(first, second):
            fail(
                props[3],
                example,
                f"first call gave {short_repr(first[1], 150)}, the second {short_repr(second[1], 150)}",
            )

    from hypothesis.errors import HypothesisException

    try:
        prop()
    except PropertyBroken:
        return dict(last)
    except HypothesisException as e:
        if last:
            return dict(last)
        notes.append(f"{name}: hypothesis could not run the derived properties ({describe(e)}); skipped")
        return None
    except Exception as e:
        if last:
            return dict(last)
        return {
            "function": name,
            "property": "property run",
            "falsifying_example": "",
            "message": f"{type(e).__name__}: {short_repr(str(e), 500)}",
        }
    return None


def own_tests(name, source, examples, call_timeout, emit, checked, notes, with_reporter):
    """Run tests/test_<name>.py: every top-level test* function that takes no arguments."""
    import inspect

    failures = []
    filename = f"tests/test_{name}.py"
    module = types.ModuleType("test_" + name)
    module.__file__ = filename
    try:
        exec(compile(source, filename, "exec"), module.__dict__)
    except Exception as e:
        return [
            {
                "function": name,
                "property": filename,
                "falsifying_example": "",
                "message": f"the test file failed to load: {type(e).__name__}: {short_repr(str(e), 500)}",
            }
        ]
    for tname, test in sorted(vars(module).items()):
        if not tname.startswith("test") or not callable(test) or isinstance(test, type):
            continue
        try:
            required = [
                p
                for p in inspect.signature(test).parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
        except (TypeError, ValueError):
            required = []
        if required:
            notes.append(
                "{}::{} takes arguments ({}); fixtures are not supported, skipped".format(
                    filename, tname, ", ".join(p.name for p in required)
                )
            )
            continue
        checked.append(f"{name}: {filename}::{tname}")
        emit(
            {
                "kind": "example",
                "function": name,
                "property": f"{filename}::{tname}",
                "example": "",
                "limit": call_timeout * max(1, int(examples)) + 5,
            }
        )
        reported = []
        try:
            if with_reporter is not None:
                with with_reporter(reported.append):
                    test()
            else:
                test()
        except Exception as e:
            lines = [str(x) for x in reported] + [str(n) for n in getattr(e, "__notes__", [])]
            example = "\n".join(line for line in lines if "Falsifying" in line or "=" in line or "(" in line)
            failures.append(
                {
                    "function": name,
                    "property": f"{filename}::{tname}",
                    "falsifying_example": clip(example.strip(), 1000),
                    "message": describe(e),
                }
            )
        emit({"kind": "example_done"})
    return failures
