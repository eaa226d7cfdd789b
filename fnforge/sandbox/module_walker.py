"""Run inside the sandbox image: which attributes of the allowed modules hold modules.

The policy gate must refuse `statistics.sys` or `from numpy.ctypeslib import ctypes` without
a hand-written list, because what an allowed module holds is a fact of the library versions
in the image. This script is that fact's only source: the host runs it as
`python3 -c <this file> '<allowed top-level names as JSON>'` in a throwaway container (or,
for the process backend, with the host's own interpreter) and reads one JSON object from
its stdout; it never unpickles or evaluates what comes back.

It imports every allowed module and each of its submodules (test suites aside), then walks
each loaded module's attributes (those it lists too, as six.moves' lazy ones) to depth 3,
through classes and other objects, stopping at the first module, and prints, per module,
every attribute path whose value is a module, or a function that imports any module by
name (`import_module`, `__import__`, `reload`: marked ANY_MODULE).
Standard library only: the image has nothing else that we can count on.
"""

import builtins
import contextlib
import importlib
import io
import json
import pkgutil
import sys
import time
import types
import warnings

MAX_DEPTH = 3
ANY_MODULE = "*"  # what an attribute holds that imports any module by name (sympy.external.import_module)
IMPORTER_NAMES = frozenset({"import_module", "__import__", "reload", "reload_module", "import_string"})
IMPORTERS = (importlib.import_module, importlib.reload, builtins.__import__)
SKIPPED_PARTS = frozenset({"tests", "test", "conftest", "__main__", "setup"})
SAMPLE_TYPES = (bool, int, float, complex, str, bytes, tuple, frozenset)


def import_everything(allowed, deadline):
    """Import each allowed module and its submodules; return {name: why} for those that failed."""
    failed = {}
    for top in sorted(allowed):
        try:
            module = importlib.import_module(top)
        except BaseException as e:  # noqa: BLE001 - any failure means "not importable here"
            failed[top] = f"{type(e).__name__}: {e}"[:200]
            continue
        for info in pkgutil.walk_packages(
            getattr(module, "__path__", None) or [], top + ".", lambda _n: None
        ):
            if time.monotonic() > deadline:
                failed[info.name] = "not imported: the walk ran out of time"
                continue
            if SKIPPED_PARTS.intersection(info.name.split(".")):
                continue
            try:
                importlib.import_module(info.name)
            except BaseException as e:  # noqa: BLE001
                failed[info.name] = f"{type(e).__name__}: {e}"[:200]
    return failed


def own_attributes(value):
    """The attributes an object holds itself (a class: along its MRO), without running descriptors."""
    try:
        if issubclass(type(value), type):
            merged = {}
            for base in reversed(value.__mro__):
                with contextlib.suppress(TypeError):
                    merged.update(vars(base))
            return merged
        found = vars(value)
    except Exception:  # noqa: BLE001 - an object whose __dict__ is a trap holds nothing we follow
        return {}
    return found if type(found) is dict else {}


def module_attributes(module):
    """A module's own attributes plus those it only lists (`__dir__`, lazy `__getattr__`: six.moves)."""
    found = dict(own_attributes(module))
    try:
        listed = [k for k in dir(module) if isinstance(k, str) and k not in found]
    except Exception:  # noqa: BLE001
        listed = []
    for key in listed:
        try:
            found[key] = getattr(module, key)
        except Exception:  # noqa: BLE001 - an attribute that fails to load holds nothing
            continue
    return found


def is_importer(value):
    """True for a function that imports a module by a name its caller gives."""
    if any(value is f for f in IMPORTERS):
        return True
    if not issubclass(type(value), types.FunctionType | types.BuiltinFunctionType):
        return False
    return getattr(value, "__name__", None) in IMPORTER_NAMES


def module_paths(module, met):
    """{attribute path: module name} for every path of depth <= 3 from `module` ending at a module
    (or at an importer: ANY_MODULE); each module met is added to `met`."""
    found = {}
    seen = set()
    frontier = [((str(k),), v) for k, v in list(module_attributes(module).items())]
    for depth in range(1, MAX_DEPTH + 1):
        deeper = []
        for path, value in frontier:
            if issubclass(type(value), types.ModuleType):
                name = getattr(value, "__name__", None)
                found[".".join(path)] = name if isinstance(name, str) else "?"
                if isinstance(name, str):
                    met.setdefault(name, value)
                continue
            if is_importer(value):
                found[".".join(path)] = ANY_MODULE
                continue
            if depth == MAX_DEPTH or id(value) in seen:
                continue
            seen.add(id(value))
            deeper += [(path + (k,), v) for k, v in list(own_attributes(value).items()) if isinstance(k, str)]
        frontier = deeper
    return found


def samples(module):
    """One public function, class and constant of a module (a lawful use for the tests to try)."""
    picked = {}
    for key, value in sorted(own_attributes(module).items()):
        if not isinstance(key, str) or key.startswith("_") or not key.isidentifier():
            continue
        if issubclass(type(value), types.ModuleType):
            continue
        if issubclass(type(value), type):
            kind = "class"
        elif issubclass(type(value), types.FunctionType | types.BuiltinFunctionType):
            kind = "function"
        elif type(value) in SAMPLE_TYPES:
            kind = "constant"
        else:
            continue
        picked.setdefault(kind, key)
    return picked


def walk(allowed, budget_s):
    """The facts as one JSON-ready dict."""
    started = time.monotonic()
    warnings.simplefilter("ignore")
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        failed = import_everything(allowed, started + budget_s)
        imported = time.monotonic()
        loaded = {
            m.__name__: m
            for m in list(sys.modules.values())
            if issubclass(type(m), types.ModuleType)
            and isinstance(getattr(m, "__name__", None), str)
            and m.__name__.split(".")[0] in allowed
        }
        modules, met, done = {}, dict(loaded), set()
        while todo := sorted(n for n in met if n not in done and n.split(".")[0] in allowed):
            for name in todo:  # then the allowed modules met on the way (lazy, or not in sys.modules)
                done.add(name)
                try:
                    modules[name] = module_paths(met[name], met)
                except Exception as e:  # noqa: BLE001 - left out, so the policy refuses to import it
                    failed[name] = f"not walked: {type(e).__name__}: {e}"[:200]
        picked = {top: samples(loaded[top]) for top in sorted(allowed) if top in loaded}
    return {
        "format": 1,
        "python": sys.version.split()[0],
        "allowed": sorted(allowed),
        "modules": modules,
        "samples": picked,
        "failed": failed,
        "import_s": round(imported - started, 3),
        "walk_s": round(time.monotonic() - imported, 3),
    }


if __name__ == "__main__":
    allowed_names = frozenset(json.loads(sys.argv[1]))
    budget = float(sys.argv[2]) if len(sys.argv) > 2 else 240.0
    sys.stdout.write(json.dumps(walk(allowed_names, budget)))
    sys.stdout.flush()
