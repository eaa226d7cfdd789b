"""A static bearer token in front of the HTTP transport, for binds other hosts can reach.

The token comes from the environment (`FNFORGE_SERVE_TOKEN`), never from a file or the
command line (where `ps` would show it). The comparison takes constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Any

from fnforge.serve.errors import ServeError

TOKEN_ENV = "FNFORGE_SERVE_TOKEN"


def is_loopback(host: str) -> bool:
    """True when only this machine can reach `host` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_token_off_loopback(host: str, token: str | None) -> None:
    """Refuse a bind that other machines can reach unless a bearer token guards it."""
    if not is_loopback(host) and not token:
        raise ServeError(
            f"--host {host} can be reached from other machines; set {TOKEN_ENV} to a secret bearer "
            "token in the environment (clients then send `Authorization: Bearer <token>`), "
            "or bind to 127.0.0.1"
        )


class BearerToken:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`, else 401."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = json.dumps({"error": "unauthorized: send Authorization: Bearer <token>"}).encode()
                await send({
                    "type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                })  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
