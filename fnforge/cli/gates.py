"""Composes the ordered gate list for a step started from the command line (`apply`, `train`).

DESIGN.md: whoever starts a step composes the gates, cheapest first, so no part below the
engine imports another. The sandbox and validation gates join here as those parts land.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from fnforge.protocol import Gate


def default_gates(repo_root: Path, stack: ExitStack, *, validate: bool = True) -> list[Gate]:
    """The gates for a step in `repo_root`, cheapest first.

    Resources the gates need (a sandbox pool) are entered on `stack`, so the caller closes
    them when the step is done.
    """
    from fnforge.function_repo.static_gate import StaticGate

    return [StaticGate()]
