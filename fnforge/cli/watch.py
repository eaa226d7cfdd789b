"""`fnforge watch`: the repository's report, live in a browser while a run trains (read-only)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape

from fnforge.cli.app import app
from fnforge.cli.output import fail, result

_HELP = (
    "Serve the report of the repository's runs as they are now, updating itself as steps are "
    "recorded.\n\n"
    "The page (http://127.0.0.1:PORT/) shows every step, the step in flight (its phase, tasks done "
    'of total, the run\'s spend so far) and, with \\[training] review = "human", the candidates '
    "waiting; GET /state.json returns what it shows. Read-only: it never takes the training lock "
    "and no request changes anything. Any host other than loopback needs a bearer token in "
    "FNFORGE_SERVE_TOKEN (clients send `Authorization: Bearer <token>`), as `fnforge serve` does."
)


@app.command("watch", help=_HELP)
def watch_command(
    repo: Path = typer.Option(
        Path("."), "--repo", "-r", help="The function repository (made by `fnforge init`)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="The address to bind. Other than loopback needs FNFORGE_SERVE_TOKEN."
    ),
    port: int = typer.Option(8766, "--port", help="The port to listen on (0 picks a free one)."),
) -> None:
    from fnforge.function_repo import FunctionRepo, RepoError
    from fnforge.report.watch import serve_watch, watch_app
    from fnforge.serve import TOKEN_ENV, ServeError, bind_socket, require_token_off_loopback

    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a TCP port; use 0..65535")
    token = os.environ.get(TOKEN_ENV) or None
    try:
        require_token_off_loopback(host, token)
        FunctionRepo.open(repo).close()  # say now, not on the first request, that it is not a repository
        sock = bind_socket(host, port)
    except (RepoError, ServeError) as e:
        fail(str(e))
        return
    root = Path(repo).resolve()

    def listening(url: str) -> None:
        text = f"watching {escape(str(root))} at {escape(url)} (read-only; Ctrl-C stops)"
        result({"event": "listening", "url": url, "repo": str(root)}, text)

    try:
        serve_watch(watch_app(root, host=host, token=token), sock, listening)
    finally:
        sock.close()
