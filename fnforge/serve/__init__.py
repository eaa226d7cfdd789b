"""Serving a trained function set to any agent as an MCP tool server, every call in the sandbox.

The function store gives the set at a step and its derived schemas; the sandbox pool runs
the calls. This part uses both (neither knows the other) and the official `mcp` SDK:

    served = ServedSet.load(repo, ref)             # the set, its schemas, its step and commit
    server = FunctionServer(served, pool, CallQueue(pool.size, waiting))
    await serve_stdio(server.mcp)                  # or serve_http(server.mcp, sock, ...)
"""

from fnforge.function_repo.client_config import mcp_config
from fnforge.serve.arguments import ArgumentCheck
from fnforge.serve.bearer import TOKEN_ENV, is_loopback, require_token_off_loopback
from fnforge.serve.call_queue import Busy, CallQueue
from fnforge.serve.errors import ServeError
from fnforge.serve.served_set import ServedSet
from fnforge.serve.server import FunctionServer
from fnforge.serve.transports import bind_socket, serve_http, serve_stdio

__all__ = [
    "TOKEN_ENV",
    "ArgumentCheck",
    "Busy",
    "CallQueue",
    "FunctionServer",
    "ServeError",
    "ServedSet",
    "bind_socket",
    "is_loopback",
    "mcp_config",
    "require_token_off_loopback",
    "serve_http",
    "serve_stdio",
]
