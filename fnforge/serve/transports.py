"""Running a server over stdio (a client starts it) or streamable HTTP (it listens on a socket).

HTTP listens on a socket bound before the sandbox pool starts, so a taken port fails at
once; the server announces its URL only once it accepts connections. A loopback bind gets
the SDK's DNS-rebinding protection; any bind gets the bearer check when a token is set.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import anyio
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.transport_security import TransportSecuritySettings

from fnforge.serve.bearer import BearerToken, is_loopback
from fnforge.serve.errors import ServeError

MCP_PATH = "/mcp"


async def serve_stdio(server: Server) -> None:
    """Serve one client on stdin/stdout until it closes stdin."""
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (port 0 picks a free one); ServeError says why it cannot."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        raise ServeError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port or --host"
        ) from None
    return sock


def _bracketed(host: str) -> str:
    """An address as it appears in a URL or Host header: IPv6 in brackets."""
    host = host.strip("[]")
    return f"[{host}]" if ":" in host else host


def url_of(sock: socket.socket) -> str:
    """The URL clients use to reach the server on this socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{_bracketed(host)}:{port}{MCP_PATH}"


async def serve_http(
    server: Server, sock: socket.socket, host: str, token: str | None, on_listening: Callable[[str], None]
) -> None:
    """Serve streamable HTTP on `sock` until interrupted; call `on_listening(url)` once it accepts."""
    security = None
    if is_loopback(host):  # a web page must not reach a loopback server through a rebound DNS name
        named = sorted({_bracketed(host), "127.0.0.1", "localhost", "[::1]"})
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{h}:*" for h in named],
            allowed_origins=[f"http://{h}:*" for h in named],
        )
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host, transport_security=security)
    asgi = BearerToken(app, token) if token else app
    web = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="on"))
    await serve_on_socket(web, sock, lambda: on_listening(url_of(sock)))


async def serve_on_socket(web: uvicorn.Server, sock: socket.socket, listening: Callable[[], None]) -> None:
    """Run `web` on the bound `sock` until it exits; call `listening()` once it accepts connections.

    Shared by `fnforge serve --transport http` and `fnforge watch`: both bind first (so a port in
    use is a clear error before anything starts) and announce their URL only when it answers.
    """
    async with anyio.create_task_group() as tg:

        async def announce() -> None:
            while not web.started:
                if web.should_exit:
                    return
                await anyio.sleep(0.02)
            listening()

        tg.start_soon(announce)
        await web.serve(sockets=[sock])
        tg.cancel_scope.cancel()
