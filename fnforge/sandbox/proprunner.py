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

What the annotations and docstring promise is read by `proptypes` (sent along, imported as
a sibling module); a derived run goes in phases: `parameter_strategies`, a `DerivedCheck`
of each example, and `run_derived` mapping how hypothesis ended to a failure or a note.
"""

import copy
import inspect
import sys
import time
import types
import typing

from .proptypes import documented_raises, json_problem, matches, same, strategy_for

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
    found = parameter_strategies(name, fn, st, notes)
    if found is None:
        return None
    strategies, positional, returns = found
    check = DerivedCheck(name, fn, positional, returns, call_timeout, emit)
    checked.extend(f"{name}: {p}" for p in check.props)

    @settings(**common)
    @given(st.fixed_dictionaries(strategies))
    def prop(kwargs):
        check.example(kwargs)

    return run_derived(name, prop, check, notes)


def parameter_strategies(name, fn, st, notes):
    """({parameter: strategy}, positional-only names, return annotation), or None with a note
    when a required parameter has no annotation or no strategy."""
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
    return params, positional, hints.get("return", typing.Any)


class DerivedCheck:
    """The derived properties of one function, checked on one example at a time."""

    def __init__(self, name, fn, positional, returns, call_timeout, emit):
        self.name, self.fn, self.positional, self.returns = name, fn, positional, returns
        self.call_timeout, self.emit = call_timeout, emit
        self.allowed = documented_raises(fn.__doc__)
        self.props = [
            "returns {}".format(getattr(returns, "__name__", returns)),
            "returns a JSON value",
            f"finishes within {call_timeout:g}s",
            "is deterministic",
            "raises only documented exceptions",
        ]
        self.last = {}  # the failure, once a property broke

    def call(self, kwargs):
        """Call the function once on a copy of the example, announced to the worker's watchdog."""
        args = copy.deepcopy(kwargs)
        example = call_repr(self.name, kwargs)
        self.emit({"kind": "example", "function": self.name, "property": self.props[2], "example": example})
        start = time.perf_counter()
        try:
            value, error = self.fn(*[args.pop(p) for p in self.positional], **args), None
        except Exception as e:  # BaseException (SystemExit, KeyboardInterrupt) ends the run below
            value, error = None, e
        elapsed = time.perf_counter() - start
        self.emit({"kind": "example_done"})
        return value, error, elapsed, example

    def fail(self, prop, example, message):
        """Record the broken property and stop this example (hypothesis then shrinks it)."""
        self.last.update(function=self.name, property=prop, falsifying_example=example, message=message)
        raise PropertyBroken(f"{prop}: {message}")

    def example(self, kwargs):
        """Every derived property on one example: time, exceptions or type and JSON, determinism."""
        value, error, elapsed, example = self.call(kwargs)
        if elapsed > self.call_timeout:
            self.fail(self.props[2], example, f"took {elapsed:.2f}s; the limit is {self.call_timeout:g}s")
        if error is not None:
            self.check_raised(error, example)
        else:
            self.check_value(value, example)
        value2, error2, _, _ = self.call(kwargs)
        first = ("raise", type(error).__name__) if error is not None else ("value", value)
        second = ("raise", type(error2).__name__) if error2 is not None else ("value", value2)
        if not same(first, second):
            message = f"first call gave {short_repr(first[1], 150)}, the second {short_repr(second[1], 150)}"
            self.fail(self.props[3], example, message)

    def check_raised(self, error, example):
        """An exception is allowed only when the docstring documents its type (or a base)."""
        names = {c.__name__ for c in type(error).__mro__}
        if not names & self.allowed:
            documented = ", ".join(sorted(self.allowed)) or "none"
            message = (
                f"raised {type(error).__name__}: {short_repr(str(error), 200)} (documented: {documented})"
            )
            self.fail(self.props[4], example, message)

    def check_value(self, value, example):
        """A returned value has the annotated type and crosses as JSON."""
        if matches(value, self.returns) is False:
            self.fail(
                self.props[0], example, f"returned {short_repr(value, 200)} of type {type(value).__name__}"
            )
        problem = json_problem(value)
        if problem:
            self.fail(
                self.props[1], example, f"returned {short_repr(value, 200)}, which is not JSON: {problem}"
            )


def run_derived(name, prop, check, notes):
    """Run the hypothesis test; the failure it found, None, or a note when it could not run."""
    from hypothesis.errors import HypothesisException

    try:
        prop()
    except PropertyBroken:
        return dict(check.last)
    except HypothesisException as e:
        if check.last:
            return dict(check.last)
        notes.append(f"{name}: hypothesis could not run the derived properties ({describe(e)}); skipped")
        return None
    except Exception as e:
        if check.last:
            return dict(check.last)
        return {
            "function": name,
            "property": "property run",
            "falsifying_example": "",
            "message": f"{type(e).__name__}: {short_repr(str(e), 500)}",
        }
    return None


def own_tests(name, source, examples, call_timeout, emit, checked, notes, with_reporter):
    """Run tests/test_<name>.py: every top-level test* function that takes no arguments."""
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
