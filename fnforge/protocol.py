"""The small vocabulary that the parts share without importing each other.

`function_repo` runs an ordered list of gates that it is *given*; the sandbox provides the
policy and property gates, the engine the validation gate. For that to work without the
parts importing one another, the gate protocol, the verdict it returns and the read-only
view of a candidate live here, in a module that depends on nothing but pydantic. So does
`set_hash`, the one content hash of a function set that the sandbox (its loaded sets) and
the engine (its cached scores, notes and transcripts) both key by.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field


def set_hash(functions: Mapping[str, str]) -> str:
    """The content hash of a function set: its names and sources, nothing else of the tree.

    Equal sets hash equal wherever they come from (a commit, a candidate, a served step),
    so a sandbox worker keeps one loaded copy per set and a score cached for a set is found
    again; the notes record it as a score's `set`.
    """
    data = json.dumps(sorted(functions.items()), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


class Verdict(BaseModel):
    """The outcome of one gate on one candidate: passed or not, and why.

    A failure inside a run is a value, not an exception: every gate returns a verdict, and
    the store records the first failing one (its gate, action and reason) in the note and
    the `Fnforge-Decision` trailer.
    """

    gate: str
    passed: bool
    reason: str = ""
    action: str | None = None  # e.g. "add_function mean_of" when one action caused the failure
    details: dict[str, Any] = Field(default_factory=dict)
    score_before: float | None = None  # set by the validation gate
    score_after: float | None = None
    duration_s: float = 0.0

    @classmethod
    def ok(cls, gate: str, reason: str = "", **kw: Any) -> Verdict:
        """A passing verdict."""
        return cls(gate=gate, passed=True, reason=reason, **kw)

    @classmethod
    def fail(cls, gate: str, reason: str, **kw: Any) -> Verdict:
        """A failing verdict with its reason."""
        return cls(gate=gate, passed=False, reason=reason, **kw)


@runtime_checkable
class CandidateView(Protocol):
    """What a gate may read of a candidate function set (all plain data, no git objects).

    `functions` maps every function name in the candidate set to its module source;
    `tests` maps function names to the source of `tests/test_<name>.py` where one exists;
    `changed` names the functions that this step added or revised; `removed` those it
    removed; `base_functions` is the head's set the candidate was made from.
    """

    step: int
    run: str
    functions: Mapping[str, str]
    tests: Mapping[str, str]
    changed: list[str]
    removed: list[str]
    base_functions: Mapping[str, str]
    actions: list[Any]
    tree_sha: str
    commit_sha: str


@runtime_checkable
class Gate(Protocol):
    """One check a candidate must pass before it is merged; cheapest gates come first."""

    name: str

    def check(self, candidate: CandidateView) -> Verdict:
        """Judge the candidate; never raise for a failure the candidate caused."""
        ...
