"""A fast, safe reading of everyday LaTeX expressions as numbers at sample points.

Parsing LaTeX with Math-Verify's ANTLR grammar costs ~20 ms and its symbolic comparison
100+ ms, so every wrong symbolic answer would cost the MATH evaluator a tenth of a second;
`math_judge` asks this reader first and takes only its clear "different" (Math-Verify
decides the rest). So that "different" is also Math-Verify's, the reader knows only what
Math-Verify reads the same way: no `\\log` (base 10 there), no `\\gamma` (Euler's constant
there) or capital Greek letters (`\\Delta` is `\\delta` there), no `x^23` (x^{23} there) and
no `\\sin 2 t` (sin(2) t there); the differential test holds it to that.
Most expressions in answers are plain arithmetic over a few variables (`\\frac{1}{4-\\omega^2}`,
`x / 2 - 1 / 4 + c e^{-2 x}`); this module parses that subset itself (a small recursive
descent, no `eval`) and evaluates it with complex floats at fixed sample points. Equal at
every point means equal; clearly different at one point means different; anything outside
the subset (relations, primes, sets, unknown commands) or any overflow returns None and the
caller falls back to the symbolic checker. Floats overflow instead of growing, so a hostile
`9^{9^{9^9}}` costs microseconds here.
"""

from __future__ import annotations

import cmath
import math
import operator
import re
from collections.abc import Callable

Value = complex
Expr = Callable[[dict[str, complex]], complex]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*|\.\d+)|(?P<cmd>\\[A-Za-z]+)|(?P<var>[A-Za-z])|(?P<op>[-+*/^(){}\[\]_!|]))"
)
_FUNCTIONS: dict[str, Callable[[complex], complex]] = {
    "\\sin": cmath.sin,
    "\\cos": cmath.cos,
    "\\tan": cmath.tan,
    "\\exp": cmath.exp,
    "\\ln": cmath.log,
    "\\sinh": cmath.sinh,
    "\\cosh": cmath.cosh,
    "\\tanh": cmath.tanh,
    "\\arcsin": cmath.asin,
    "\\arccos": cmath.acos,
    "\\arctan": cmath.atan,
    "\\sec": lambda z: 1 / cmath.cos(z),
    "\\csc": lambda z: 1 / cmath.sin(z),
    "\\cot": lambda z: 1 / cmath.tan(z),
}
_GREEK = {
    "alpha",
    "beta",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "hbar",
    "ell",
}
_IGNORED = {"\\cdot": "*", "\\times": "*", "\\div": "/"}
MAX_TOKENS = 400
MAX_MAGNITUDE = 1e150
_SAMPLES = (0.7134, 1.3172, 0.4519, 1.8763, 0.9281, 1.1546, 0.6023, 1.5338)


def _apply(op: Callable[[complex, complex], complex], a: Expr, b: Expr) -> Expr:
    return lambda v: op(a(v), b(v))


class _Unsupported(Exception):
    """Outside the subset this reader understands; the caller uses the symbolic checker."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _Unsupported(text[pos : pos + 10])
        pos = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "cmd" and value in _IGNORED:
            kind, value = "op", _IGNORED[value]
        out.append((kind, value))
        if len(out) > MAX_TOKENS:
            raise _Unsupported("too long")
    return out


class _Parser:
    """expr := term (+|- term)*; term := unary ((*|/|implicit) unary)*; unary := -unary | power;
    power := atom (^ atom)?; atom := number | variable | (expr) | {expr} | \\frac | \\sqrt | f(x)."""

    def __init__(self, tokens: list[tuple[str, str]], calls: bool = False) -> None:
        self.t, self.i = tokens, 0
        self.calls = calls  # read `f(x)` as a function call (else as the product f * x)
        self.names: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise _Unsupported(f"expected {value}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        e = self.expr()
        if self.peek() is not None:
            raise _Unsupported(f"unexpected {self.peek()}")
        return e

    def expr(self) -> Expr:
        e = self.term()
        while (tok := self.peek()) and tok[1] in "+-" and tok[0] == "op":
            self.take()
            rhs = self.term()
            e = _apply(operator.add if tok[1] == "+" else operator.sub, e, rhs)
        return e

    def term(self) -> Expr:
        e = self.unary()
        while (tok := self.peek()) is not None:
            if tok in (("op", "*"), ("op", "/")):
                self.take()
                e = _apply(operator.mul if tok[1] == "*" else operator.truediv, e, self.unary())
            elif (
                tok[0] in ("num", "var")
                or tok[1] in ("(", "{", "[")
                or (tok[0] == "cmd" and self._starts_atom(tok))
            ):
                e = _apply(operator.mul, e, self.power())
            else:
                break
        return e

    def unary(self) -> Expr:
        tok = self.peek()
        if tok == ("op", "-"):
            self.take()
            inner = self.unary()
            return lambda v: -inner(v)
        if tok == ("op", "+"):
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            exponent = self.exponent()
            return lambda v: _pow(base(v), exponent(v))
        return base

    def exponent(self) -> Expr:
        tok = self.peek()
        if tok == ("op", "-"):
            self.take()
            inner = self.exponent()
            return lambda v: -inner(v)
        if tok and tok[0] == "num" and len(tok[1]) > 1:
            raise _Unsupported("x^23")  # LaTeX says x^2 * 3, Math-Verify reads x^{23}: its call
        return self.atom()

    def first_digit(self) -> Expr:
        """Only the first digit of a number token is the argument (`x^23`, `\\frac12`)."""
        _, digits = self.take()
        first = complex(int(digits[0]))
        self.t.insert(self.i, ("num", digits[1:]))
        return lambda v: first

    @staticmethod
    def _starts_atom(tok: tuple[str, str]) -> bool:
        name = tok[1][1:]
        return tok[1] in _FUNCTIONS or name in _GREEK or name in ("frac", "sqrt", "pi")

    def group(self) -> Expr:
        self.take("{")
        e = self.expr()
        self.take("}")
        return e

    def atom(self) -> Expr:
        tok = self.take()
        kind, value = tok
        if kind == "num":
            number = complex(float(value))
            return lambda v: number
        if kind == "var" or (kind == "cmd" and value[1:] in _GREEK):
            name = value
            if self.peek() == ("op", "_"):
                self.take()
                sub = self.take()
                if sub[1] == "{":
                    depth, parts = 1, []
                    while depth:
                        nxt = self.take()
                        depth += (nxt[1] == "{") - (nxt[1] == "}")
                        if depth:
                            parts.append(nxt[1])
                    name += "_" + "".join(parts)
                else:
                    name += "_" + sub[1]
            if name == "e":
                return lambda v: complex(math.e)
            if name == "i":
                return lambda v: 1j
            if self.calls and kind == "var" and self.peek() == ("op", "("):
                self.take()
                arg = self.expr()
                self.take(")")
                w = 0.5 + sum(map(ord, name)) % 97 / 97  # a fixed, smooth stand-in for the function
                return lambda v: cmath.exp(arg(v) * w) + w
            self.names.add(name)
            return lambda v: v[name]
        if kind == "op" and value in "({[":
            close = {"(": ")", "{": "}", "[": "]"}[value]
            e = self.expr()
            self.take(close)
            return e
        if kind == "cmd":
            if value == "\\pi":
                return lambda v: complex(math.pi)
            if value == "\\frac":
                num, den = self.group_or_digit(), self.group_or_digit()
                return lambda v: num(v) / den(v)
            if value == "\\sqrt":
                if self.peek() == ("op", "["):
                    self.take()
                    index = self.expr()
                    self.take("]")
                    radicand = self.group_or_digit()
                    return lambda v: _pow(radicand(v), 1 / index(v))
                radicand = self.group_or_digit()
                return lambda v: cmath.sqrt(radicand(v))
            if value in _FUNCTIONS:
                fn = _FUNCTIONS[value]
                power: Expr | None = None
                if self.peek() == ("op", "^"):  # \sin^2 x
                    self.take()
                    power = self.exponent()
                arg = self.power() if self.peek() and self.peek()[1] in "({[" else self.unary_argument()
                if power is None:
                    return lambda v: fn(arg(v))
                return lambda v: _pow(fn(arg(v)), power(v))
        raise _Unsupported(value)

    def unary_argument(self) -> Expr:
        """`\\sin x`: one atom; `\\sin 2 t` is unsupported (Math-Verify reads it as sin(2) t)."""
        e = self.power()
        tok = self.peek()
        if tok is not None and (tok[0] in ("num", "var") or (tok[0] == "cmd" and tok[1][1:] in _GREEK)):
            raise _Unsupported("a product after a function name")
        return e

    def group_or_digit(self) -> Expr:
        tok = self.peek()
        if tok and tok[1] == "{":
            return self.group()
        if tok and tok[0] == "num" and len(tok[1]) > 1 and "." not in tok[1]:
            return self.first_digit()
        return self.atom()


def _pow(base: complex, exponent: complex) -> complex:
    if abs(exponent) > 1000 or (abs(base) > 1e10 and abs(exponent) > 30):
        raise OverflowError("power too large")
    if exponent.imag == 0 and exponent.real == int(exponent.real) and base.imag == 0:
        return complex(base.real ** int(exponent.real))
    return base**exponent


def compile_latex(text: str, calls: bool = False) -> tuple[Expr, set[str]] | None:
    """The expression as a function of its variables, and the variable names; None if unsupported."""
    if any(
        bad in text
        for bad in (
            "=",
            "<",
            ">",
            "\\frac{d",
            "\\partial",
            ",",
            "'",
            "\\prime",
            "\\infty",
            "\\pm",
            "\\dot",
            "\\text",
        )
    ):
        return None
    try:
        parser = _Parser(_tokens(text), calls)
        return parser.parse(), parser.names
    except (_Unsupported, RecursionError, IndexError, ValueError):
        return None


_CALL = re.compile(r"(?<![\\A-Za-z])[A-Za-z]\s*\(")


def values_at(expr: Expr, names: list[str], samples: int = 3) -> list[complex] | None:
    """The expression at fixed sample points (same points for the same variable names)."""
    out = []
    for k in range(samples):
        point = {
            name: complex(_SAMPLES[(j + 3 * k) % len(_SAMPLES)] + 0.1 * j) for j, name in enumerate(names)
        }
        try:
            value = expr(point)
        except (ZeroDivisionError, OverflowError, ValueError, KeyError, RecursionError):
            return None
        if not (cmath.isfinite(value) and abs(value) < MAX_MAGNITUDE):
            return None
        out.append(value)
    return out


def _equation(text: str, calls: bool) -> tuple[Expr, set[str]] | None:
    """`lhs = rhs` as the function lhs - rhs (None unless exactly one `=` and both sides compile)."""
    if text.count("=") != 1:
        return None
    left, right = (compile_latex(side, calls) for side in text.split("="))
    if left is None or right is None:
        return None
    fl, fr = left[0], right[0]
    return (lambda v: fl(v) - fr(v)), left[1] | right[1]


def equations_verdict(pred: str, ref: str, calls: bool = False) -> bool | None:
    """Two equations are the same when one is a non-zero constant multiple of the other
    (`2y = 4x` and `y - 2x = 0`): the ratio of their `lhs - rhs` is the same at every point."""
    a, b = _equation(pred, calls), _equation(ref, calls)
    if a is None or b is None:
        return None
    names = sorted(a[1] | b[1])
    va, vb = values_at(a[0], names, samples=4), values_at(b[0], names, samples=4)
    if va is None or vb is None or any(abs(y) < 1e-12 for y in vb):
        return None
    ratios = [x / y for x, y in zip(va, vb, strict=True)]
    if abs(ratios[0]) < 1e-9:
        return False
    return all(abs(r - ratios[0]) <= 1e-9 * abs(ratios[0]) for r in ratios)


def numeric_verdict(pred: str, ref: str) -> bool | None:
    """Equal (True), different (False) or unknown (None) by evaluating both at sample points.

    `u(t)` may be a function call or a product; when either side has one, both readings must
    give the same verdict, else the symbolic checker decides.
    """
    if not (_CALL.search(pred) or _CALL.search(ref)):
        return _verdict(pred, ref, calls=False)
    as_product, as_call = _verdict(pred, ref, calls=False), _verdict(pred, ref, calls=True)
    return as_product if as_product == as_call else None


def _verdict(pred: str, ref: str, calls: bool, rel_tol: float = 1e-9) -> bool | None:
    if "=" in pred and "=" in ref:
        return equations_verdict(pred, ref, calls)
    a, b = compile_latex(pred, calls), compile_latex(ref, calls)
    if a is None or b is None:
        return None
    names = sorted(a[1] | b[1])
    va, vb = values_at(a[0], names), values_at(b[0], names)
    if va is None or vb is None:
        return None
    close = [abs(x - y) <= rel_tol * max(1.0, abs(x), abs(y)) for x, y in zip(va, vb, strict=True)]
    if all(close):
        return True
    far = [abs(x - y) > 1e-6 * max(1.0, abs(x), abs(y)) for x, y in zip(va, vb, strict=True)]
    return False if any(far) else None
