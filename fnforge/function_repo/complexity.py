"""How big and how tangled a function set is: the paper's function-complexity analysis.

A trained set can win validation points by growing ever longer special cases. Counting, per
step, the set's functions, its lines of code and each function's cyclomatic complexity (with
radon, the well-kept measure, not a hand-written counter) shows whether it did. The trainer
records this in each step's note and the report draws it next to the learning curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def set_complexity(functions: Mapping[str, str]) -> dict[str, Any]:
    """Size and cyclomatic complexity of a function set ({name: module source}).

    Returns plain data for a note: `functions` (modules in the set), `loc` (source lines of
    code, radon's SLOC, summed), `cc_mean` and `cc_max` over every function and method
    defined, and `per_function` {qualified name: complexity}. A module that does not parse
    counts its lines and no functions.
    """
    from radon.complexity import cc_visit
    from radon.raw import analyze
    from radon.visitors import Class

    loc = 0
    per_function: dict[str, int] = {}
    for name, source in sorted(functions.items()):
        try:
            loc += analyze(source).sloc
            blocks = cc_visit(source)
        except (SyntaxError, ValueError):
            loc += sum(1 for line in source.splitlines() if line.strip())
            continue
        for block in blocks:  # radon lists a class's methods on their own too
            if not isinstance(block, Class):
                owner = f"{block.classname}." if block.classname else ""
                per_function[f"{name}.{owner}{block.name}"] = int(block.complexity)
    values = list(per_function.values())
    return {
        "functions": len(functions),
        "loc": loc,
        "cc_mean": round(sum(values) / len(values), 3) if values else 0.0,
        "cc_max": max(values, default=0),
        "per_function": per_function,
    }
