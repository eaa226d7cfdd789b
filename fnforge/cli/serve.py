"""`fnforge serve`: the function set as an MCP tool server, every call in the sandbox.

Over stdio (the default) stdout carries the protocol, so everything this command says goes
to stderr. A mistake in the command (bad ref, public bind without a token, taken port) is
one line and exit 2; a sandbox that cannot start is one line and exit 1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import anyio
import typer
from rich.markup import escape

from fnforge.cli.app import app
from fnforge.cli.output import MODE, err_console, fail, result
from fnforge.config import ConfigError
from fnforge.function_repo import FunctionRepo, RepoError

_TOKEN_HELP = (
    "Any other host needs a bearer token in the environment variable FNFORGE_SERVE_TOKEN "
    "(clients send `Authorization: Bearer <token>`); without it the server refuses to start. "
    "When the variable is set, loopback binds require the token too."
)


def _say(message: str) -> None:
    """A status line on stderr (stdout may be the protocol): a JSON line with --json, none with --quiet."""
    if MODE.json_lines:
        typer.echo(json.dumps({"event": "progress", "message": message}), err=True)
    elif not MODE.quiet:
        err_console.print(message)


def _stop_on_sigterm() -> None:
    """A client stops a stdio server with SIGTERM: unwind, so the pool removes its containers."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


@app.command(
    "serve",
    help=(
        "Serve the function set as MCP tools; every call runs in the sandbox.\n\n"
        "The tools are the set's functions at --ref, with the schemas `fnforge export --format "
        "tools-json` writes. Calls run in the sandbox pool under the repository's \\[sandbox] limits; "
        "a timeout, crash or broken limit is a tool error, never a dead server. Up to \\[sandbox] pool "
        'calls run at once, \\[serve] queue more wait, and further calls get a "busy" error.\n\n'
        "stdio (the default) is for clients that start the server themselves: `fnforge export "
        "--format mcp-config` prints their config. http serves streamable HTTP at "
        "http://HOST:PORT/mcp, bound to 127.0.0.1 unless --host says otherwise. " + _TOKEN_HELP
    ),
)
def serve_command(
    repo: Path = typer.Option(
        Path("."), "--repo", "-r", help="The function repository (made by `fnforge init`)."
    ),
    ref: str = typer.Option(
        None, "--ref", help="Step number, branch or commit to serve (default: the branch head)."
    ),
    transport: str = typer.Option("stdio", "--transport", "-t", help="stdio | http"),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="http: the address to bind. Other than loopback needs FNFORGE_SERVE_TOKEN (see above).",
    ),
    port: int = typer.Option(8765, "--port", help="http: the port to listen on (0 picks a free one)."),
    queue: int = typer.Option(
        None, "--queue", help="Calls that may wait for a worker (default: \\[serve] queue in fnforge.toml)."
    ),
) -> None:
    from fnforge import serve as serving
    from fnforge.sandbox import SandboxUnavailable, open_pool

    if transport not in ("stdio", "http"):
        fail(f"--transport {transport!r} is not known; use stdio or http")
    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a TCP port; use 0..65535")
    if queue is not None and queue < 0:
        fail(f"--queue {queue} must be 0 or more")
    token = os.environ.get(serving.TOKEN_ENV) or None
    sock = None
    try:
        if transport == "http":
            serving.require_token_off_loopback(host, token)
        with FunctionRepo.open(repo) as fr:
            served = serving.ServedSet.load(fr, ref)
            settings = fr.settings
        if transport == "http":
            sock = serving.bind_socket(host, port)
    except (RepoError, ConfigError, serving.ServeError) as e:
        fail(str(e))
    _stop_on_sigterm()
    waiting = settings.serve.queue if queue is None else queue
    _say(f"starting {settings.sandbox.pool} sandbox workers for {len(served.functions)} tools "
         f"(step {served.step}, commit {served.commit[:12]}) ...")  # fmt: skip
    try:
        with open_pool(settings.sandbox) as pool:
            server = serving.FunctionServer(served, pool, serving.CallQueue(pool.size, waiting))
            if sock is None:
                _say(f"serving {len(served.tools)} tools over stdio ({pool.backend_name} sandbox)")
                anyio.run(serving.serve_stdio, server.mcp)
                return

            def listening(url: str) -> None:
                text = f"serving {len(served.tools)} tools at {escape(url)} ({pool.backend_name} sandbox)"
                result({"event": "listening", "url": url, "step": served.step, "commit": served.commit}, text)

            anyio.run(serving.serve_http, server.mcp, sock, host, token, listening)
    except SandboxUnavailable as e:
        fail(str(e), code=1)
    except serving.ServeError as e:
        fail(str(e))
    finally:
        if sock is not None:
            sock.close()
