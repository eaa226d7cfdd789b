"""The process that does symbolic equivalence checks (math-verify + sympy), one per line.

Symbolic algebra can take unbounded time or memory on a hostile expression
(`9^{9^{9^9}}`), and neither math-verify's signal-based timeout (main thread only, cannot
interrupt C code) nor a thread can stop it. So the checks run here, in a separate process
that the parent simply kills when a check runs past its time limit. The protocol is JSON
lines both ways (never pickle): `{"a": latex, "b": latex}` in, `{"equal": bool}` out.
Only math-verify's LaTeX parser is used: it builds sympy objects without `eval`.
"""

from __future__ import annotations

import cmath
import functools
import json
import logging
import re
import resource
import sys

MEMORY_LIMIT_BYTES = 2 * 1024**3


def _limit_memory() -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ValueError, OSError):  # a stricter limit is already in place
        pass


_COMMAND = re.compile(r"\\(?:text|mathrm|mbox|operatorname)\s*\{[^{}]*\}|\\[A-Za-z]+")
_CONSTANT_LETTERS = set("eidC")  # e, i, a differential d, an integration constant


def _trustworthy(expr: object, latex: str) -> bool:
    """False for parses that lost the meaning: `zoo`/`nan` (`\\gamma^2` read as the Gamma
    function), or a plain number where the LaTeX names variables (`E_{1}` read as a constant)."""
    import sympy

    if not isinstance(expr, sympy.Basic):
        return True
    if expr.has(sympy.zoo, sympy.nan):
        return False
    letters = set(re.findall(r"[A-Za-z]", _COMMAND.sub(" ", latex))) - _CONSTANT_LETTERS
    return not (letters and not expr.free_symbols and isinstance(expr, sympy.Expr))


def _both_equations(a: object, b: object) -> bool:
    import sympy

    return isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq)


def _equal(a: object, b: object) -> bool:
    """Equations are the same when one is a non-zero multiple of the other: by a constant
    (`y = 2x + 3` and `2y - 4x = 6`), or, for differential equations, by a factor free of the
    unknowns (`L C v'' + v = u` and `v'' + v / (L C) = u / (L C)`). math-verify's own rule
    is more lenient than this."""
    import sympy

    left, right = a.lhs - a.rhs, b.lhs - b.rhs  # type: ignore[attr-defined]
    if sympy.simplify(left - right) == 0:
        return True
    if right == 0:
        return False
    ratio = sympy.simplify(left / right)
    if ratio == 0 or not ratio.is_finite and ratio.is_finite is not None:
        return False
    if ratio.is_number:
        return True
    unknowns: set = set()
    for expr in (left, right):
        for d in expr.atoms(sympy.Derivative):
            unknowns |= d.free_symbols
    return bool(unknowns) and not (ratio.free_symbols & unknowns)


def _clearly_different(a: object, b: object) -> bool:
    """A fast no: two expressions whose difference is clearly non-zero at sample points.

    math-verify's full check simplifies symbolically (100+ ms); most wrong answers differ
    visibly at a couple of points, which takes about a millisecond. Anything unusual (sets,
    relations, undefined functions, non-finite values) answers False and goes the slow way.
    """
    import sympy

    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return False
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    for trial in range(2):
        values = {s: sympy.Float(0.3 + 0.17 * i + 0.05 * trial) for i, s in enumerate(symbols)}
        try:
            x = complex(a.subs(values).evalf(30))
            y = complex(b.subs(values).evalf(30))
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
            return False
        if not all(map(cmath.isfinite, (x, y))):
            return False
        if abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y)):
            return False
    return True


def main() -> None:
    """Serve checks until stdin closes."""
    _limit_memory()
    logging.disable(logging.CRITICAL)  # math-verify warns about disabled timeouts: we are the timeout
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]

    @functools.lru_cache(maxsize=4096)
    def parsed(latex: str) -> list:
        result = parse("\\boxed{" + latex + "}", config, parsing_timeout=None)
        return result if result and _trustworthy(result[0], latex) else []

    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            a, b = parsed(request["a"]), parsed(request["b"])
            if not a or not b:
                reply = {"equal": None, "error": "could not parse"}
            else:
                if _both_equations(a[0], b[0]):
                    equal = _equal(a[0], b[0])
                elif _clearly_different(a[0], b[0]):
                    equal = False
                else:
                    equal = bool(verify(a, b, timeout_seconds=None))
                reply = {"equal": equal}
        except MemoryError:
            reply = {"equal": None, "error": "out of memory"}
        except Exception as e:  # a check that fails is an answer ("undecided"), not a crash
            reply = {"equal": None, "error": f"{type(e).__name__}: {e}"[:200]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
