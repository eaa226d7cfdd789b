"""`fnforge watch`: a repository's report, live, over read-only HTTP.

GET endpoints and nothing else: `/` is the report page (the same renderer as `fnforge
report`, plus a script), `/state.json` the run model it is drawn from (steps, candidates
waiting, the step in flight), and the page's two charts as PNGs of their own (drawing them
takes most of a page's time, so new steps show before their charts do). The page asks for `/state.json` every second and,
when a step was recorded, fetches `/` again and swaps in the new section, so it follows a run
without a reload. Every request opens the repository afresh and only reads it (one `git log`,
the in-flight file): no lock is taken, nothing is written, any other method is refused (405).

Bound to loopback by default; a loopback server also refuses requests whose Host header
is not a loopback name (a web page cannot reach it through a rebound DNS name). Another
host needs a bearer token from FNFORGE_SERVE_TOKEN, checked exactly as `fnforge serve`
checks it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from fnforge.function_repo import FunctionRepo, RepoError
from fnforge.report.collect import report_data
from fnforge.report.page import render_page
from fnforge.report.run_model import RunState, read_run
from fnforge.serve.bearer import BearerToken, is_loopback

CHARTS = ("learning-curve", "complexity")
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # the page is self-contained: it may only talk back to this server
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; connect-src 'self'"
    ),
}


class LiveReport:
    """The page and the state of one repository, read on each request; the page kept per run version.

    Rendering the page (chart, diffs, analyses) takes a moment, so it is redone only when a
    step is recorded or a candidate starts or stops waiting; the state is read every time.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self._render = threading.Lock()  # the page (text only in live mode)
        self._draw = threading.Lock()  # the charts (matplotlib), so a chart never holds up new steps
        self._page: tuple[str, str] = ("", "")  # (version, html)
        self._charts: dict[str, tuple[str, bytes]] = {}  # name -> (version, png)

    def state(self) -> RunState:
        """The run model now (RepoError when the repository cannot be read)."""
        with FunctionRepo.open(self.root) as repo:
            return read_run(repo)

    def page(self) -> str:
        """The report page of the repository now, with the live script."""
        with FunctionRepo.open(self.root) as repo:
            state = read_run(repo)
            with self._render:
                if self._page[0] != state.version:
                    self._page = (state.version, render_page(report_data(repo, state), live=True))
                return self._page[1]

    def chart(self, name: str) -> bytes:
        """The page's chart `name` ("learning-curve" or "complexity") as a PNG, for the run now."""
        with FunctionRepo.open(self.root) as repo:
            state = read_run(repo)
            with self._draw:
                if self._charts.get(name, ("", b""))[0] != state.version:
                    self._charts[name] = (state.version, _draw(name, repo, state))
                return self._charts[name][1]


def _draw(name: str, repo: FunctionRepo, state: RunState) -> bytes:
    from fnforge.report.analyses import collect_analyses, complexity_png
    from fnforge.report.chart import learning_curve_png

    if name == "learning-curve":
        return learning_curve_png(state.steps)
    return complexity_png(collect_analyses(repo, repo.steps(include_rejected=True)).complexity)


def watch_app(root: Path, *, host: str = "127.0.0.1", token: str | None = None) -> object:
    """The ASGI app `fnforge watch` serves for the repository at `root`."""
    live = LiveReport(root)

    def page(request: Request) -> Response:
        try:
            return HTMLResponse(live.page(), headers=HEADERS)
        except RepoError as e:
            return HTMLResponse(f"<p>cannot read the repository: {e}</p>", status_code=503, headers=HEADERS)

    def state(request: Request) -> Response:
        try:
            body, status = live.state().to_dict(), 200
        except RepoError as e:
            body, status = {"error": str(e)}, 503
        return Response(json.dumps(body), status, headers=HEADERS, media_type="application/json")

    def chart(request: Request) -> Response:
        if request.path_params["name"] not in CHARTS:
            return Response("no such chart", 404, headers=HEADERS, media_type="text/plain")
        try:
            png = live.chart(request.path_params["name"])
        except RepoError as e:
            return Response(str(e), 503, headers=HEADERS, media_type="text/plain")
        # the page names each chart by run version (?v=), so the browser may keep it
        return Response(
            png, headers={**HEADERS, "Cache-Control": "private, max-age=600"}, media_type="image/png"
        )

    app: object = Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/state.json", state, methods=["GET"]),
            Route("/{name:str}.png", chart, methods=["GET"]),
        ]
    )
    if is_loopback(host):
        names = sorted({host.strip("[]"), "127.0.0.1", "localhost"})
        app = TrustedHostMiddleware(app, allowed_hosts=names)
    return BearerToken(app, token) if token else app


def url_of(sock: socket.socket) -> str:
    """The page's address for a browser."""
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


def serve_watch(app: object, sock: socket.socket, on_listening: Callable[[str], None]) -> None:
    """Serve `app` on the bound `sock` until interrupted; `on_listening(url)` once it accepts."""
    web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))

    async def run() -> None:
        async with anyio.create_task_group() as tg:

            async def announce() -> None:
                while not web.started:
                    if web.should_exit:
                        return
                    await anyio.sleep(0.02)
                on_listening(url_of(sock))

            tg.start_soon(announce)
            await web.serve(sockets=[sock])
            tg.cancel_scope.cancel()

    anyio.run(run)
