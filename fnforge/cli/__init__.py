"""The command line: thin porcelain that parses, calls one library function, and prints.

Commands are grouped by the part they drive, one module each (repo, sandbox, check, train,
demo); each module registers its commands on `app` (from `fnforge.cli.app`, which also
gives every command `--quiet` and `--json`) when imported. No logic lives only here.
"""

from __future__ import annotations

import sys

from fnforge.cli.app import app
from fnforge.cli.output import UsageError, console, err_console, fail

__all__ = ["app", "main", "console"]

# Each module adds its commands to `app` (imported for that side effect); the order of
# these imports is the order of the commands in `fnforge --help`, so it is not sorted.
from fnforge.cli import repo as _repo  # noqa: E402,F401,I001
from fnforge.cli import sandbox as _sandbox  # noqa: E402,F401
from fnforge.cli import check as _check  # noqa: E402,F401
from fnforge.cli import train as _train  # noqa: E402,F401
from fnforge.cli import review as _review  # noqa: E402,F401
from fnforge.cli import demo as _demo  # noqa: E402,F401
from fnforge.cli import serve as _serve  # noqa: E402,F401
from fnforge.cli import watch as _watch  # noqa: E402,F401


def main() -> None:
    """Console-script entry: usage errors exit 2 with one line, never a traceback."""
    try:
        app()
    except UsageError as e:
        fail(str(e), 2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
