"""The process where Math-Verify judges MATH answers, one request per line.

Math-Verify (HuggingFace) reads the final answer out of free text and decides equivalence
with sympy; both can take unbounded time or memory on a hostile input (`9^{9^{9^9}}`, a
100 KB prose reference), and neither its signal-based timeout (main thread only, cannot
interrupt C code) nor a thread can stop that. So the work runs here, in a separate process
that the parent simply kills when a request runs past its time limit. The protocol is JSON
lines both ways (never pickle):

- `{"gold": text, "pred": text, "hint": text|null, "near": [side, value, tol]|null}` ->
  `{"equal": bool|null, "error": str}`: the reference (`gold`) and the agent's output
  (`pred`) are read with Math-Verify's extraction (LaTeX, then plain expressions; the
  output's last `\\boxed{}` first); when the output yields nothing, `hint` (the answer span
  fnforge read) is tried as LaTeX. `near` carries the dataset's precision: a decimal written
  to k digits on one side (`3.14159`) accepts a value of the other side (`\\pi`) within `tol`.
- `{"read": text}` -> `{"readable": bool}`: whether a reference yields a mathematical answer.

Math-Verify's LaTeX parser builds sympy objects without `eval`.
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
_LETTER = re.compile(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])")
_LAST_SIDE = re.compile(r"=|\\approx")
_CONSTANT_LETTERS = set("eidC")  # e, i, a differential d, an integration constant


def _trustworthy(parsed: list) -> bool:
    """False for readings that lost the meaning: `zoo`/`nan` (`\\gamma^2` read as the Gamma
    function), or a plain number where the LaTeX names variables (`E_{1}` read as a constant)."""
    import sympy

    expr, written = parsed[0], str(parsed[-1]) if len(parsed) > 1 else ""
    if not isinstance(expr, sympy.Basic):
        return True
    if expr.has(sympy.zoo, sympy.nan):
        return False
    if not isinstance(expr, sympy.Eq):  # `x = 1 = 0` and `x \\approx 11` read as their last side
        written = _LAST_SIDE.split(written)[-1]
    letters = set(_LETTER.findall(_COMMAND.sub(" ", written))) - _CONSTANT_LETTERS
    return not (letters and not expr.free_symbols and isinstance(expr, sympy.Expr))


def _equations_equal(a: object, b: object) -> bool:
    """Equations are the same when one is a non-zero multiple of the other: by a constant
    (`y = 2x + 3` and `2y - 4x = 6`), or, for differential equations, by a factor free of the
    unknowns (`L C v'' + v = u` and `v'' + v / (L C) = u / (L C)`). Math-Verify's own rule is
    more lenient (it takes `x' = -(kx - a)` for `x' = kx - a`)."""
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


def _near(expr: object, value: float, tol: float) -> bool:
    """Whether a constant expression evaluates to within `tol` of `value`."""
    import sympy

    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return False
    try:
        x = complex(expr.evalf(30))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, AttributeError):
        return False
    return abs(x.imag) <= 1e-12 * max(1.0, abs(x)) and abs(x.real - value) <= tol


def _clearly_different(a: object, b: object) -> bool:
    """A fast no: two expressions whose difference is clearly non-zero at sample points.

    Math-Verify's full check simplifies symbolically (often 100+ ms); most wrong answers differ
    visibly at a couple of points, which takes about a millisecond. Anything unusual (sets,
    relations, undefined functions, non-finite values) answers False and goes the full way.
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


def _all_clearly_different(gold: list, pred: list) -> bool:
    """Math-Verify accepts when any reading of the output matches any reading of the reference;
    so a fast no needs every pair of readings to differ (and no two spellings to be equal)."""
    if {x for x in gold if isinstance(x, str)} & {x for x in pred if isinstance(x, str)}:
        return False
    exprs_g = [x for x in gold if not isinstance(x, str)]
    exprs_p = [x for x in pred if not isinstance(x, str)]
    return bool(exprs_g and exprs_p) and all(_clearly_different(a, b) for a in exprs_g for b in exprs_p)


_NEGATED_GROUP = re.compile(r"\s*-\s*(?:\\left\s*)?[(\[]")


def _lost_sign(parsed: list) -> bool:
    """A collection read out of `-(...)`: Math-Verify drops the minus (`-((1, 2))` reads as
    `{1, 2}`), so that reading says nothing about what was written. (`-2, 1` is fine.)"""
    import sympy

    written = str(parsed[-1]) if len(parsed) > 1 else ""
    if not isinstance(parsed[0], sympy.Set | sympy.Tuple | sympy.MatrixBase):
        return False
    m = _NEGATED_GROUP.match(written)
    if not m:
        return False
    depth = 0
    for i in range(m.end() - 1, len(written)):  # the group opened after the minus spans the rest
        depth += written[i] in "([{" and 1 or (written[i] in ")]}" and -1 or 0)
        if depth == 0:
            return not written[i + 1 :].strip(" .")
    return False


def main() -> None:
    """Serve requests until stdin closes."""
    _limit_memory()
    logging.disable(logging.CRITICAL)  # Math-Verify warns about disabled timeouts: we are the timeout
    import sympy
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    # references: any LaTeX span, then plain expressions (Math-Verify's defaults)
    gold_config = [LatexExtractionConfig(), ExprExtractionConfig()]
    # model outputs: the last \boxed{} wins over other spans, as the task instruction asks for one
    pred_config = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]

    @functools.lru_cache(maxsize=4096)
    def gold_parsed(text: str) -> list:
        found = parse(text, gold_config, parsing_timeout=None)
        if not found and not text.startswith("\\boxed{"):  # a LaTeX answer with a stray `$ $` in it
            found = parse("\\boxed{" + text + "}", gold_config, parsing_timeout=None)
        return found if found and _trustworthy(found) else []

    def pred_parsed(text: str, hint: str | None) -> list:
        found = parse(text, pred_config, parsing_timeout=None)
        if not found and hint:
            found = parse("\\boxed{" + hint + "}", pred_config, parsing_timeout=None)
        return found if found and _trustworthy(found) else []

    def answer(request: dict) -> dict:
        if "read" in request:
            # a mathematical object, not just the text given back (what a prose paragraph yields)
            return {"readable": any(not isinstance(x, str) for x in gold_parsed(request["read"]))}
        gold = gold_parsed(request["gold"])
        if not gold:
            return {"equal": None, "error": "the reference cannot be read"}
        pred = pred_parsed(request["pred"], request.get("hint"))
        if not pred:
            return {"equal": False, "error": "no answer found in the output"}
        if _lost_sign(pred):
            return {"equal": False, "error": "a negated collection"}
        if isinstance(gold[0], sympy.Eq) and isinstance(pred[0], sympy.Eq):
            return {"equal": _equations_equal(gold[0], pred[0])}
        near = request.get("near")
        if near and _near((pred if near[0] == "gold" else gold)[0], float(near[1]), float(near[2])):
            return {"equal": True}
        if "%" not in request["gold"] and _all_clearly_different(gold, pred):
            return {"equal": False}  # (Math-Verify reads `28\\%` as 28 or 0.28: its call)
        return {"equal": bool(verify(gold, pred, timeout_seconds=None))}

    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except MemoryError:
            reply = {"equal": None, "error": "out of memory"}
        except Exception as e:  # a check that fails is an answer ("undecided"), not a crash
            reply = {"equal": None, "error": f"{type(e).__name__}: {e}"[:200]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
