"""The snippet an MCP client needs to start `fnforge serve` over stdio (`mcpServers` JSON).

An export format of the set (`fnforge export --format mcp-config`, see `export.py`), kept
here beside the others; `fnforge.serve` offers it too, as `mcp_config`.

Clients such as Claude Desktop, Cursor or VS Code start a stdio server from a command and
its arguments, usually without the user's shell environment; so the command is an absolute
path (the `fnforge` script beside this interpreter, else the interpreter with `-m`) and the
repository is an absolute path too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def serve_command() -> list[str]:
    """The argv that starts this very fnforge installation, as an absolute path."""
    script = Path(sys.executable).parent / "fnforge"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "fnforge.cli"]


def mcp_config(repo_root: Path, name: str, ref: str | None = None) -> dict[str, Any]:
    """`{"mcpServers": {name: {"command", "args"}}}` serving the repository's set over stdio.

    Without `ref` the server offers the branch head as it is when the client starts it;
    with one it offers that step, branch or commit for good.
    """
    command, *head = serve_command()
    args = [*head, "serve", "--repo", str(Path(repo_root).resolve())]
    if ref is not None:
        args += ["--ref", str(ref)]
    return {"mcpServers": {name: {"command": command, "args": args}}}
