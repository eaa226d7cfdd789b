"""The command line: thin porcelain that parses, calls one library function, and prints.

Commands are grouped by the part they drive, one module each (repo, sandbox, check, train,
demo); each module registers its commands on `app` when imported. No logic lives only here.
"""

from __future__ import annotations

import sys

import typer

from fnforge.cli.output import UsageError, console, err_console, fail, set_mode

app = typer.Typer(
    name="fnforge",
    help=(
        "Train an LLM agent's functions instead of its weights.\n\n"
        "A function set is a git branch you own; every proposed edit is a commit, kept only "
        "if it passes the gates (static, property tests in a sandbox, validation). "
        "Start with `fnforge init DIR --task gsm8k`, or `fnforge demo` for a tour."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only results and errors."),
    json_lines: bool = typer.Option(False, "--json", help="Print progress and results as JSON lines."),
) -> None:
    set_mode(quiet=quiet, json_lines=json_lines)


# Each module adds its commands to `app` (imported for that side effect); the order of
# these imports is the order of the commands in `fnforge --help`, so it is not sorted.
from fnforge.cli import repo as _repo  # noqa: E402,F401,I001
from fnforge.cli import sandbox as _sandbox  # noqa: E402,F401
from fnforge.cli import check as _check  # noqa: E402,F401
from fnforge.cli import train as _train  # noqa: E402,F401
from fnforge.cli import demo as _demo  # noqa: E402,F401
from fnforge.cli import serve as _serve  # noqa: E402,F401


def main() -> None:
    """Console-script entry: usage errors exit 2 with one line, never a traceback."""
    try:
        app()
    except UsageError as e:
        fail(str(e), 2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


__all__ = ["app", "main", "console"]
