"""Whether two LaTeX answers mean the same thing: shortcuts first, sympy last.

MATH references are LaTeX (`\\frac{1}{2}`, `4.5e33`, `(1, 2]`, `\\sqrt{3} i + 1`) and agents
write the same value many ways (`\\dfrac12`, `0.5`, `x = 1/2`, `41.8^\\circ`, `12.5\\%`,
`1.6 cm`). Most pairs are settled in microseconds by normalising the strings and reading
numbers; tuples, sets and intervals are compared element by element; only what remains
goes to the symbolic checker, which runs under a hard time limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from fnforge.evaluators.latex_numeric import compile_latex, numeric_verdict, values_at
from fnforge.evaluators.numbers import Number, parse_number
from fnforge.evaluators.symbolic import SymbolicChecker

_SPACES = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad|~|\s+")
_WRAPPERS = re.compile(r"\\(?:left|right|displaystyle|big|Big|bigg|Bigg)(?![a-zA-Z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree")
_TEXT_CMD = re.compile(r"\\(?:text|textrm|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]frac")
_SQRT_SHORT = re.compile(r"\\sqrt(\d)")
_FRAC_SHORT = re.compile(r"\\frac(\d)(\d)")
_LHS = re.compile(r"^[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?(?:\([a-z]\))?\s*=\s*(?=[^=]+$)")
_MEMBER = re.compile(r"^[A-Za-z]\s*\\in\s*")
_RELATION = re.compile(r"\\(?:le|ge|leq|geq|lt|gt|in|cup|cap|setminus|begin)\b|[<>=]|\\mid")
_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*")
_UNIT_WORD = r"(?:\\AA|\\mu\s*[A-Za-z]+|[A-Za-z]{2,}|[mgsJVKNWLAMCFT])"
_UNIT_TAIL = re.compile(
    rf"(?:\s*(?:{_UNIT_WORD}|\{{\s*{_UNIT_WORD}?\s*\}}|\[[^\[\]]*\]|/|\^\s*\{{?-?\d\}}?|\\cdot|"
    r"\^\s*\{\s*(?:\\prime\s*)+\}))+\s*$"  # arcminutes and arcseconds after a number
)
# trailing `\text{...}` / `\mathrm{...}` after an expression: units, whatever the expression is
_TEXT_UNIT = r"\\(?:text|mathrm|mbox)\s*\{[^{}]*\}"
_MARKED_UNITS = re.compile(
    rf"(?<=\S)\s*(?:\\mu\s*)?{_TEXT_UNIT}(?:\s*(?:{_TEXT_UNIT}|/|\^\s*\{{?-?\d\}}?|\\cdot|~))*\s*$"
)
_SCI = re.compile(r"^([-+]?\d*\.?\d+)\s*(?:\\times|\\cdot|\*|×)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?$")
_PROTECTED = {"pi", "infty", "sqrt", "frac", "sin", "cos", "tan", "ln", "log", "exp"}


def strip_text_commands(s: str) -> str:
    """`\\text{cm}` -> `cm`: keep the words, drop the command (so units can be recognised)."""
    for _ in range(3):
        s2 = _TEXT_CMD.sub(lambda m: " " + m.group(1) + " ", s)
        if s2 == s:
            break
        s = s2
    return s


def normalize(answer: str) -> str:
    """A canonical spelling for string comparison: no spacing commands, `\\dfrac` -> `\\frac`,
    no `\\left`/`\\right`, no degree signs, no `$`, no final full stop, no spaces."""
    s = answer.strip()
    s = s.replace("\\$", "").replace("$", "").replace("\\!", "")
    s = _WRAPPERS.sub("", s)
    s = _DEGREES.sub("", s)
    s = _FRAC.sub(r"\\frac", s)
    if not s.startswith(("\\text", "\\mathrm", "\\mbox")):
        s = _MARKED_UNITS.sub("", s)
    s = strip_text_commands(s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _SPACES.sub(" ", s).strip()
    while s and s[-1] in ".,;":
        s = s[:-1].rstrip()
    return s


def _strip_units(s: str) -> str:
    """`1.6 cm`, `4.5e33 ergs/s`, `3 \\AA` -> the number in front; anything else unchanged."""
    m = _UNIT_TAIL.search(s)
    if not m or m.start() == 0:
        return s
    head = s[: m.start()].strip()
    words = set(re.findall(r"[A-Za-z]+", m.group(0)))
    if words & _PROTECTED or not head or parse_number(_sci(head)) is None:
        return s
    return head


def _sci(s: str) -> str:
    m = _SCI.match(s.replace(" ", ""))
    return f"{m.group(1)}e{m.group(2)}" if m else s


def _number(s: str) -> Number | None:
    return parse_number(_sci(_strip_units(s).replace(" ", "")))


def numbers_equal(pred: Number, ref: Number) -> bool:
    """Equal values; an answer given to more digits than the reference is accepted when it rounds
    to the reference at the reference's last written digit (`1.62` for `1.6`, `4.48e33` for
    `4.5e33`); integers are exact; `12.5%` equals `0.125`."""
    candidates = [pred.value]
    if pred.percent != ref.percent:
        candidates.append(pred.value / 100 if pred.percent else pred.value * 100)
    for value in candidates:
        if value == ref.value or abs(value - ref.value) <= Fraction(1, 10**9) * abs(ref.value):
            return True
        if ref.quantum is not None and ref.quantum != 1 and abs(value - ref.value) * 2 <= ref.quantum:
            return True
        if ref.quantum is None and pred.quantum is not None and _significant(value) >= 3:
            if abs(value - ref.value) * 2 <= pred.quantum:  # 0.333 for 1/3
                return True
    return False


def _significant(value: Fraction) -> int:
    digits = f"{abs(float(value)):.15g}".replace(".", "").lstrip("0")
    return len(digits.split("e")[0])


def _number_against_constant(p: str, r: str, pn: Number | None, rn: Number | None) -> bool | None:
    """`\\frac{\\sqrt{2}}{2}` against `0.707`: evaluate the expression, compare as numbers."""
    compiled = compile_latex(_strip_units(r if pn is not None else p))
    if compiled is None or compiled[1]:
        return None
    values = values_at(compiled[0], [], samples=1)
    if values is None:
        return None
    x = values[0]
    if abs(x.imag) > 1e-12 * max(1.0, abs(x)):
        return False
    evaluated = Number(Fraction(x.real), None)
    return numbers_equal(pn, evaluated) if pn is not None else numbers_equal(evaluated, rn)  # type: ignore[arg-type]


_DERIVATIVE = re.compile(
    r"\\frac\{\s*d\s*(?:\^\s*\{?\d+\}?)?\s*(?:\\[A-Za-z]+|[A-Za-z])(?:\s*_\s*(?:\{[^{}]*\}|\w))?\s*\}"
    r"\{\s*d\s*(?:\\[A-Za-z]+|[A-Za-z])\s*(?:\^\s*\{?\d+\}?)?\s*\}"  # dy/dx, d^2 v_o / dt^2
    r"|(?:\\[A-Za-z]+|[A-Za-z])(?:\s*_\s*(?:\{[^{}]*\}|\w))?\s*(?:\^\s*\{\s*(?:\\prime\s*)+\}|'+)"  # y', y^{\prime}
    r"|\\d?dot\s*\{[^{}]*\}(?:\s*_\s*(?:\{[^{}]*\}|\w))?"  # \dot{x}_{0}
)


def _derivative_key(m: re.Match) -> str:
    """`y^{\\prime \\prime}` and `y''` are the same derivative."""
    key = m.group(0).replace(" ", "")
    return re.sub(r"\^\{((?:\\prime)+)\}", lambda p: "'" * p.group(1).count("prime"), key)


def _name_derivatives(p: str, r: str) -> tuple[str, str] | None:
    """Derivatives written the same way on both sides become plain variables for the number
    reader (`y^{\\prime} + r y` -> `\\Xi_{D0} + r y`); None when the sides write different ones."""
    keys_p = {_derivative_key(m) for m in _DERIVATIVE.finditer(p)}
    keys_r = {_derivative_key(m) for m in _DERIVATIVE.finditer(r)}
    if keys_p != keys_r:
        return None
    if not keys_p:
        return p, r
    names = {key: f"\\Xi_{{D{n}}}" for n, key in enumerate(sorted(keys_p))}
    rename = lambda m: " " + names[_derivative_key(m)] + " "  # noqa: E731
    return _DERIVATIVE.sub(rename, p), _DERIVATIVE.sub(rename, r)


def _split_top(s: str) -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        c = s[i]
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _collection(s: str) -> tuple[str, str, list[str]] | None:
    """(open, close, elements) for `(a, b)`, `[a, b)`, `\\{a, b\\}` or a bare `a, b`; else None."""
    for opener in ("\\{", "(", "["):
        if s.startswith(opener):
            for closer in ("\\}", ")", "]"):
                if s.endswith(closer) and len(s) > len(opener) + len(closer):
                    inner = s[len(opener) : -len(closer)]
                    if _balanced(inner):
                        parts = _split_top(inner)
                        if len(parts) > 1:
                            return opener, closer, parts
            return None
    parts = _split_top(s)
    if len(parts) > 1 and all(parts) and not re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s.replace(" ", "")):
        return "", "", parts
    return None


def _balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += c in "({[" and 1 or (c in ")}]" and -1 or 0)
        if depth < 0:
            return False
    return depth == 0


@dataclass(frozen=True)
class Verdict:
    """Equal or not, and how it was decided (for reports and for tuning)."""

    equal: bool
    how: str
    note: str = ""


class LatexEquivalence:
    """Decides whether a predicted LaTeX answer equals the reference (see module docstring)."""

    def __init__(self, checker: SymbolicChecker | None) -> None:
        self.checker = checker

    def check(self, pred: str | None, ref: str) -> Verdict:
        """The verdict for one pair; never raises, never takes longer than the checker's limit."""
        if pred is None or not pred.strip():
            return Verdict(False, "empty")
        p, r = normalize(pred), normalize(ref)
        if ("=" in p) != ("=" in r):
            p, r = _LHS.sub("", p), _LHS.sub("", r)
        p, r = _MEMBER.sub("", p), _MEMBER.sub("", r)  # `x \in [2, 5)` -> `[2, 5)`
        if _WORDS.fullmatch(p) and _WORDS.fullmatch(r) and (len(p) > 3 or len(r) > 3):
            return Verdict(p.lower().split() == r.lower().split(), "words")  # `\text{Devon}`
        return self._compare(p, r, depth=0)

    def _compare(self, p: str, r: str, depth: int) -> Verdict:
        if p.replace(" ", "") == r.replace(" ", ""):
            return Verdict(True, "string")
        pn, rn = _number(p), _number(r)
        if pn is not None and rn is not None:
            return Verdict(numbers_equal(pn, rn), "number")
        pc, rc = _collection(p), _collection(r)
        if depth < 3 and pc and rc:
            return self._compare_collections(pc, rc, depth)
        if (pc is None) != (rc is None) and not _RELATION.search(p if pc is None else r):
            return Verdict(False, "shape")  # one thing against a list of several things
        if (pn is None) != (rn is None):
            decided = _number_against_constant(p, r, pn, rn)
            if decided is not None:
                return Verdict(decided, "numeric")
        if pn is not None and rn is None and not re.search(r"\\|[a-zA-Z]", _strip_units(r)):
            return Verdict(False, "number")
        p, r = _strip_units(p), _strip_units(r)
        opaque = _name_derivatives(p, r)
        decided = numeric_verdict(*opaque) if opaque else None
        if decided is False and opaque != (p, r) and "=" in p:
            decided = None  # differential equations may differ by a factor of parameters: sympy decides
        if decided is not None:
            return Verdict(decided, "numeric")
        return self._symbolic(p, r)

    def _compare_collections(self, pc: tuple, rc: tuple, depth: int) -> Verdict:
        (po, pcl, pe), (ro, rcl, re_) = pc, rc
        if len(pe) != len(re_):
            return Verdict(False, "collection")
        is_set = ro in ("\\{", "")
        if is_set != (po in ("\\{", "")):
            return Verdict(False, "collection")
        if not is_set and (po, pcl) != (ro, rcl):
            return Verdict(False, "collection")  # (1, 2) vs [1, 2): intervals differ
        if not is_set:
            for a, b in zip(pe, re_, strict=True):
                v = self._compare(a, b, depth + 1)
                if not v.equal:
                    return Verdict(False, "collection", v.note)
            return Verdict(True, "collection")
        remaining = list(re_)
        for a in pe:
            for i, b in enumerate(remaining):
                if self._compare(a, b, depth + 1).equal:
                    del remaining[i]
                    break
            else:
                return Verdict(False, "collection")
        return Verdict(True, "collection")

    def _symbolic(self, p: str, r: str) -> Verdict:
        if self.checker is None:
            return Verdict(False, "string", "no symbolic checker")
        result = self.checker.equivalent(r, p)
        if result.equal is None:
            return Verdict(False, "symbolic", result.note or "undecided")
        return Verdict(result.equal, "symbolic")
