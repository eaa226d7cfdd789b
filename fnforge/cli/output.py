"""How the command line talks: rich on a terminal, quiet with --quiet, JSON lines with --json.

Every command prints through these helpers so that the three modes behave the same
everywhere, and so a usage error is always one line on stderr with exit code 2.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # one error = one line


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Mode:
    quiet = False
    json_lines = False


MODE = _Mode()


def set_mode(*, quiet: bool, json_lines: bool) -> None:
    """Set by the global --quiet / --json options."""
    MODE.quiet = quiet
    MODE.json_lines = json_lines


def progress(message: str, **fields: Any) -> None:
    """A progress line: shown normally, hidden with --quiet, a JSON object with --json."""
    if MODE.json_lines:
        print(json.dumps({"event": "progress", "message": message, **fields}, default=str), flush=True)
    elif not MODE.quiet:
        console.print(message)


def result(obj: Any, human: str | None = None) -> None:
    """A command's result: JSON with --json (or when no human form exists), else the human text."""
    if MODE.json_lines or human is None:
        print(json.dumps(obj, default=str, indent=None if MODE.json_lines else 2), flush=True)
    else:
        console.print(human)


def fail(message: str, code: int = 2) -> None:
    """Stop the command with one line on stderr and the given exit code: the one error exit.

    The message is plain text on one line (its whitespace collapsed, never wrapped, never a
    traceback): `[data] train` in it is shown, not taken as markup.
    """
    err_console.print(f"[red]error:[/red] {escape(' '.join(str(message).split()))}", emoji=False)
    raise SystemExit(code)


def is_interactive() -> bool:
    """True when progress bars make sense (a terminal, not --quiet or --json)."""
    return sys.stdout.isatty() and not MODE.quiet and not MODE.json_lines
