"""The function set inside a child: a `functions` package served from sources, no files.

Functions import one another as `from functions.<name> import <name>`; tracebacks show
`functions/<name>.py` with its real lines (the sources go into linecache).
"""

import importlib.abc
import importlib.util
import linecache
import os
import sys


class FunctionSet(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves `functions` (a package with no files) and `functions.<name>` from sources."""

    def __init__(self, modules):
        self.modules = dict(modules)

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "functions":
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        if fullname.startswith("functions.") and fullname[10:] in self.modules:
            return importlib.util.spec_from_loader(
                fullname, self, origin="functions/" + fullname[10:] + ".py"
            )
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ == "functions":
            module.__path__ = []
            return
        name = module.__name__[10:]
        filename = "functions/" + name + ".py"
        source = self.modules[name]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)


def install_functions(modules):
    """Make the set importable and import every module; return {name: error} for failures."""
    finder = FunctionSet(modules)
    sys.meta_path.insert(0, finder)
    errors = {}
    for name in sorted(modules):
        try:
            importlib.import_module("functions." + name)
        except BaseException as e:  # noqa: BLE001 - a module's failure is reported, not raised
            errors[name] = {"type": type(e).__name__, "message": f"functions/{name}.py failed to load: {e}"}
        if threads_running() > 1:
            return {
                "*": {
                    "type": "ImportError",
                    "message": f"functions/{name}.py started a thread while it was "
                    "imported; start threads inside the function instead",
                }
            }
    return errors


def threads_running():
    """How many threads this process has (a holder must keep none after loading)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1
