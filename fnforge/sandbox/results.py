"""What comes back from the sandbox: plain, validated values the host can trust.

Everything the sandbox says crosses as JSON and is checked here by pydantic, so a
confused or hostile worker can at worst produce a wrong *value*, never host-side code
execution. A failure of untrusted code is a value (`CallResult.ok == False`), not an
exception; only a sandbox that cannot be used at all raises `SandboxUnavailable`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SandboxUnavailable(RuntimeError):
    """No sandbox can run here; the message says what is missing and what to do."""


class CallError(BaseModel):
    """Why a call did not return: `type` is Timeout, MemoryLimit, OutputLimit, Crashed,
    NotJSON, or the name of the Python exception the function raised."""

    type: str
    message: str = ""

    def __getitem__(self, key: str) -> str:  # also readable as a dict: error["type"]
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access, so callers may treat the error as the JSON object it is."""
        return getattr(self, key, default)


class CallResult(BaseModel):
    """The outcome of one function call in the sandbox.

    `retryable` is True when the sandbox itself failed before the function started (no worker
    could be started, the worker asked was already replaced, or the set's process was stuck
    and never handed the call to a child): nothing of the function ran, so repeating the call
    is safe, and a caller that repeats it keeps its scores independent of machine load.
    """

    ok: bool
    value: Any = None
    error: CallError | None = None
    stdout: str = ""
    duration_s: float = 0.0
    retryable: bool = False

    @classmethod
    def failed(
        cls, type_: str, message: str, stdout: str = "", duration_s: float = 0.0, *, retryable: bool = False
    ) -> CallResult:
        """A call that did not return, with the limit or exception that stopped it."""
        return cls(
            ok=False,
            error=CallError(type=type_, message=message),
            stdout=stdout,
            duration_s=duration_s,
            retryable=retryable,
        )


class PropertyFailure(BaseModel):
    """One property that did not hold, with the smallest input hypothesis found."""

    function: str
    property: str
    falsifying_example: str = ""
    message: str = ""


class PropertyReport(BaseModel):
    """The outcome of the property tests of a candidate's changed functions."""

    passed: bool
    failures: list[PropertyFailure] = Field(default_factory=list)
    checked: list[str] = Field(default_factory=list)  # "function: property" lines that ran
    notes: list[str] = Field(default_factory=list)  # e.g. a parameter type with no strategy
    budget_exhausted: bool = False  # the worker stopped the run at its overall time budget
    duration_s: float = 0.0
