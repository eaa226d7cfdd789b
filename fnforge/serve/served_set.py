"""The function set a server offers: its modules, its derived tool schemas, and which step it is.

The schemas come from the same code as `fnforge export --format tools-json`, so a client of
the server and a user of the export see the very same tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fnforge.function_repo import FunctionRepo
from fnforge.function_repo.export import set_version, step_of, tools
from fnforge.function_repo.repo import Ref
from fnforge.serve.errors import ServeError


@dataclass(frozen=True)
class ServedSet:
    """One step of a function set, read once when the server starts (later commits do not leak in)."""

    name: str  # the repository's directory name
    step: int
    commit: str
    functions: dict[str, str]  # {function name: module source}
    tools: list[dict[str, Any]]  # OpenAI tool schemas, exactly as `export --format tools-json` writes

    @classmethod
    def load(cls, repo: FunctionRepo, ref: Ref = None) -> ServedSet:
        """The set at `ref` (a step number, branch or commit; default the branch head)."""
        sha = repo.resolve(ref)
        functions = repo.functions(sha)
        if not functions:
            raise ServeError(
                f"the function set at {sha[:10]} is empty; there is nothing to serve "
                "(apply or train some functions first, or pick another --ref)"
            )
        return cls(
            name=repo.root.name, step=step_of(repo, sha), commit=sha, functions=functions,
            tools=tools(functions),
        )  # fmt: skip

    @property
    def version(self) -> str:
        """The version the server reports: the same string as the wheel export's."""
        return set_version(self.step, self.commit)

    def schema(self, tool: str) -> dict[str, Any] | None:
        """The JSON Schema of a tool's arguments, or None when the set has no such tool."""
        for entry in self.tools:
            if entry["function"]["name"] == tool:
                return entry["function"]["parameters"]
        return None
