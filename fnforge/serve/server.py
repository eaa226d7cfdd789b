"""The MCP server of a function set: the set's functions as tools, every call in the sandbox pool.

Built on the SDK's low-level `Server`, because the tool schemas are not derived from Python
callables on the host (as `MCPServer` would) but from the modules' source, by the same code
as the export. A call's arguments are checked against that schema first; then the call runs
in a warm sandbox worker under the repository's limits. Whatever the function does (raise,
time out, exhaust memory, crash its process), the caller gets a tool error that names it,
and the server keeps answering.
"""

from __future__ import annotations

import json
from typing import Any

from mcp import types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from fnforge.function_repo import defaulted_parameters
from fnforge.sandbox import CallResult, SandboxPool
from fnforge.serve.arguments import ArgumentCheck
from fnforge.serve.call_queue import Busy, CallQueue
from fnforge.serve.served_set import ServedSet


def tool_error(text: str) -> types.CallToolResult:
    """A failed call as MCP wants it: a result with isError, so the model sees why and may retry."""
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def call_outcome(res: CallResult) -> types.CallToolResult:
    """The sandbox's answer as a tool result: the value as JSON text, or the limit or exception."""
    if res.ok:
        blocks = [types.TextContent(text=json.dumps(res.value, ensure_ascii=False))]
    else:
        error = res.error
        reason = f"{error.type}: {error.message}" if error else "Crashed: the sandbox gave no reason"
        blocks = [types.TextContent(text=reason)]
    if res.stdout:
        blocks.append(types.TextContent(text=f"printed output:\n{res.stdout}"))
    return types.CallToolResult(content=blocks, is_error=not res.ok)


class FunctionServer:
    """Answers `tools/list` and `tools/call` for one served set; `.mcp` is the SDK server to run."""

    def __init__(self, served: ServedSet, pool: SandboxPool, queue: CallQueue):
        self.served = served
        self.pool = pool
        self.queue = queue
        self._checks = {
            entry["function"]["name"]: ArgumentCheck(
                entry["function"]["parameters"],
                entry["function"]["name"],
                optional=defaulted_parameters(
                    served.functions[entry["function"]["name"]], entry["function"]["name"]
                ),
            )
            for entry in served.tools
        }
        self._tools = [
            types.Tool(
                name=entry["function"]["name"],
                description=entry["function"]["description"],
                input_schema=entry["function"]["parameters"],
            )
            for entry in served.tools
        ]
        about = (
            f"The functions of {served.name} at step {served.step} (commit {served.commit}), "
            f"served by fnforge; every call runs in the {pool.backend_name} sandbox."
        )
        self.mcp: Server[Any] = Server(
            f"fnforge-{served.name}",
            version=served.version,
            title=f"{served.name} step {served.step} ({served.commit[:12]})",
            description=about,
            instructions=about,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    async def _list_tools(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=self._tools)

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        check = self._checks.get(params.name)
        if check is None:
            known = ", ".join(sorted(self._checks))
            raise MCPError(types.INVALID_PARAMS, f"no tool named {params.name!r}; this server has {known}")
        arguments = params.arguments or {}
        problem = check.problem(arguments)
        if problem is not None:
            return tool_error(f"InvalidArguments: {problem}")
        try:
            res = await self.queue.run(self.pool.call, self.served.functions, params.name, arguments)
        except Busy as e:
            return tool_error(str(e))
        except Exception as e:  # the pool itself failed (e.g. no worker could start): say so, keep serving
            return tool_error(f"SandboxUnavailable: {type(e).__name__}: {e}")
        return call_outcome(res)
