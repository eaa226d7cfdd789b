"""Whether an agent's output answers a MATH reference: Math-Verify decides, plain numbers are quick.

Math-Verify (HuggingFace) reads the final answer out of free text and compares it with the
reference symbolically: several `\\boxed{}` answers, `\\boxed{1},\\boxed{2}`, answers joined by
"and", sets and intervals written as inequalities, matrices, tuples in `\\left( \\right)`,
units and `\\text{}` around numbers, `x \\approx 11`. It runs in a killable worker under the
per-item time limit (`symbolic`), so no input can hang a check.

Before that, three shortcuts in this process decide what they can in microseconds, on
short spans only (so their cost is bounded whatever the input): the answer span fnforge read
is the reference up to spelling (`\\dfrac` for `\\frac`, spacing, `$`, `\\left`); both are
plain numbers (`0.5`, `12{,}000`, `4.5e33`, `\\frac{1}{2}`, `12.5\\%`), judged at the dataset's
own precision (a decimal reference written to k digits accepts any answer that rounds to
it, integers are exact); or two everyday expressions clearly differ at sample points
(`latex_numeric`, a "no" only). Everything else, and every "yes" between different
spellings of an expression, is Math-Verify's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from fnforge.evaluators.latex_numeric import numeric_verdict
from fnforge.evaluators.numbers import Number, parse_number
from fnforge.evaluators.symbolic import TIMEOUT, SymbolicChecker

MAX_SHORTCUT_CHARS = 200  # longer spans go to Math-Verify (the shortcuts' cost stays bounded)
MAX_SAMPLED_CHARS = 600  # the sample-point reader's input (a recursive descent, linear)
MAX_STRING_CHARS = 5_000  # same spelling is checked up to here (normalising is linear)
MAX_OUTPUT_CHARS = 20_000  # the final answer is at the end; Math-Verify reads this much of the tail

_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|~|\s+")
_WRAPPERS = re.compile(r"\\(?:left|right|displaystyle|big|Big|bigg|Bigg)(?![a-zA-Z])")
_DEGREES = re.compile(r"\^\{?\\circ\}?|\\circ|°|\\degree")
_TEXT = re.compile(r"\\(?:text|textrm|textbf|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dtc]frac")
# a number followed by a unit (`1.6 cm`, `50 \mu \mathrm{m}`, `1.87e6 {~m} / {s}`, `{cm}^{-1}`):
# the number alone; the tokens start with distinct characters, so matching is linear
_UNIT_TOKEN = r"\\mu|\\AA|\\Omega|\{[A-Za-z]{1,12}\}|[A-Za-z]{1,12}(?![A-Za-z])|/|\\cdot|\^\{?-?\d\}?"
_BARE_LETTER = re.compile(r"(?<![{A-Za-z\\])[A-Za-z](?![A-Za-z}])")
_UNIT_LETTERS = set("mgsJVKNWLAMCFT")  # a lone letter is a unit only if it is one of these
_NUMBER_WITH_UNIT = re.compile(rf"([-+]?[\d.,]+(?:e[-+]?\d+)?)((?:{_UNIT_TOKEN}){{1,8}})")
_NOT_UNITS = {"pi", "infty", "sqrt", "frac", "sin", "cos", "tan", "ln", "log", "exp", "times", "cdot"}
_WORDS = re.compile(r"[A-Za-z'-]+")
_PRIMES = re.compile(r"\^\{((?:\\prime)+)\}|\^\\prime")
# what the sample-point reader may see: no words (units, `\\text`), relations or sets
_READABLE = re.compile(r"(?:[\d.+\-*/^(){}\[\]_!|=\s]|\\[A-Za-z]+|(?<![A-Za-z])[A-Za-z](?![A-Za-z]))+")
_BIG_OPERATOR = re.compile(r"\\(?:sum|prod|int|oint|lim|binom|choose|min|max)(?![A-Za-z])")
_MATH_MARKUP = re.compile(r"\$|\\\(|\\\[|\\boxed")
# `32, 349` is a list and `0,111` a decimal comma to Math-Verify, not thousands: it decides those
_AMBIGUOUS_COMMA = re.compile(r",\s|(?<![\d.])0,\d")


_PROSE = re.compile(r"(?<![\\{_^a-zA-Z])[a-zA-Z]{3,}\s+[a-zA-Z]{3,}\s+[a-zA-Z]{3,}\b")
_TEXT_COMMAND = re.compile(r"\\(?:text|mathrm|mbox|operatorname)\s*\{[^{}]*\}")


def looks_like_math(line: str) -> bool:
    """A span that is an expression rather than a sentence (no three words in a row)."""
    return not _PROSE.search(_TEXT_COMMAND.sub(" ", line))


def normalize(answer: str) -> str:
    """A canonical spelling for string comparison: no `$`, spacing commands, `\\left`/`\\right`,
    degree signs, `\\text{}` wrappers, spaces or final full stop; `\\dfrac` -> `\\frac`."""
    s = answer.replace("\\$", "").replace("$", "")
    s = _WRAPPERS.sub("", s)
    s = _DEGREES.sub("", s)
    s = _FRAC.sub(r"\\frac", s)
    s = _TEXT.sub(r"\1", s)
    s = _SPACING.sub("", s).replace("{,}", ",").replace("{}", "")  # `{ }^{\\circ}` leaves `{}`
    s = _PRIMES.sub(lambda m: "'" * max(1, (m.group(1) or "").count("prime")), s)  # y^{\prime} = y'
    return s.rstrip(".,;")


def _number(normalized: str) -> Number | None:
    number = parse_number(normalized.rstrip("'"))  # arcminutes and arcseconds: `0.003''`
    if number is None:
        m = _NUMBER_WITH_UNIT.fullmatch(normalized)
        words = set(re.findall(r"[A-Za-z]+", m.group(2))) if m else set()
        lone = set(_BARE_LETTER.findall(m.group(2))) if m else set()
        number = (
            parse_number(m.group(1)) if words and not words & _NOT_UNITS and lone <= _UNIT_LETTERS else None
        )
    return number


def numbers_equal(pred: Number, ref: Number) -> bool:
    """Equal values; an answer given to more digits than the reference is accepted when it rounds
    to the reference at the reference's last written digit (`1.62` for `1.6`, `4.48e33` for
    `4.5e33`); integers are exact; `0.333` is accepted for an exact `1/3`."""
    value = pred.value
    if value == ref.value or abs(value - ref.value) <= Fraction(1, 10**9) * abs(ref.value):
        return True
    if ref.quantum is not None and ref.quantum != 1 and abs(value - ref.value) * 2 <= ref.quantum:
        return True
    if ref.quantum is None and pred.quantum is not None and _significant(value) >= 3:
        return abs(value - ref.value) * 2 <= pred.quantum
    return False


def _significant(value: Fraction) -> int:
    digits = f"{abs(float(value)):.15g}".replace(".", "").lstrip("0")
    return len(digits.split("e")[0])


def shortcut(extracted: str | None, reference: str) -> tuple[bool, str] | None:
    """(verdict, how) when the spelling or plain numbers settle it, else None (Math-Verify decides)."""
    if not extracted or len(extracted) > MAX_STRING_CHARS or len(reference) > MAX_STRING_CHARS:
        return None
    p, r = normalize(extracted), normalize(reference)
    if p == r and p:
        return True, "string"
    if len(extracted) > MAX_SHORTCUT_CHARS or len(reference) > MAX_SHORTCUT_CHARS:
        return None
    if _WORDS.fullmatch(p) and _WORDS.fullmatch(r) and max(len(p), len(r)) > 3:
        return p.lower() == r.lower(), "words"  # `devon` for `\\text{Devon}`
    if _AMBIGUOUS_COMMA.search(extracted) or _AMBIGUOUS_COMMA.search(reference):
        return None
    pn, rn = _number(p), _number(r)
    if pn is None or rn is None:
        return None
    if pn.percent != rn.percent:  # `12.5%` for `12.5` or `0.125` is right; otherwise Math-Verify decides
        scaled = Number(pn.value / 100 if pn.percent else pn.value * 100, None)
        return (True, "number") if numbers_equal(pn, rn) or numbers_equal(scaled, rn) else None
    return numbers_equal(pn, rn), "number"


def near(extracted: str | None, reference: str) -> tuple[str, float, float] | None:
    """The dataset's precision for Math-Verify: (the side that is a decimal, its value, half its
    last digit) when one side is a plain decimal (`3.14159`, >= 3 significant digits for an
    answer) and the other is not a plain number (`\\pi`), else None."""
    if len(reference) > MAX_SHORTCUT_CHARS:
        return None
    rn = _number(normalize(reference))
    if rn is not None:
        if rn.quantum is None or rn.quantum == 1 or rn.percent:
            return None
        return "gold", float(rn.value), float(rn.quantum) / 2
    if not extracted or len(extracted) > MAX_SHORTCUT_CHARS:
        return None
    pn = _number(normalize(extracted))
    if pn is None or pn.quantum is None or pn.percent or _significant(pn.value) < 3:
        return None
    return "pred", float(pn.value), float(pn.quantum) / 2


def clearly_different(extracted: str, reference: str) -> bool:
    """A fast no for everyday expressions (`\\frac{2}{4-\\omega^2}` for `\\frac{1}{4-\\omega^2}`):
    fnforge's own reader evaluates both at sample points in microseconds, where Math-Verify
    needs 10-100 ms to parse and compare. Only a clear difference is taken; equality, and
    anything the reader does not know (relations, units, sets, percent), is Math-Verify's."""
    if max(len(extracted), len(reference)) > MAX_SAMPLED_CHARS or "%" in extracted + reference:
        return False
    if _TEXT_COMMAND.search(extracted) or _TEXT_COMMAND.search(reference):  # units: Math-Verify's call
        return False
    if _BIG_OPERATOR.search(extracted) or _BIG_OPERATOR.search(reference):  # `\\sum_{k=0}^{n}`
        return False
    p, r = _light(extracted), _light(reference)
    return (
        _READABLE.fullmatch(p) is not None
        and _READABLE.fullmatch(r) is not None
        and numeric_verdict(p, r) is False
    )


def _light(answer: str) -> str:
    """Spelling variants the sample-point reader does not know, removed; spaces kept (`b s`)."""
    return _FRAC.sub(r"\\frac", _WRAPPERS.sub("", answer.replace("$", ""))).strip().rstrip(".")


def gold_text(reference: str) -> str:
    """The reference as Math-Verify reads it: text with math markup as it is, bare LaTeX boxed."""
    return reference if _MATH_MARKUP.search(reference) else "\\boxed{" + reference + "}"


@dataclass(frozen=True)
class Verdict:
    """Right or not, how it was decided (`string`, `number`, `math-verify`, `empty`), and why a
    verdict could not be reached normally (`timeout`, an unreadable reference)."""

    equal: bool
    how: str
    note: str = ""


class MathJudge:
    """Judges one output against one reference: shortcuts, then Math-Verify in the worker pool."""

    def __init__(self, checker: SymbolicChecker) -> None:
        self.checker = checker

    def check(self, output: str, extracted: str | None, reference: str, marked: bool = True) -> Verdict:
        """The verdict for one output; never raises, never takes longer than the checker's limit.
        `extracted` is the answer span fnforge read; the shortcuts use it only when the output
        `marked` it (boxed, `The answer is`, ...); then Math-Verify also gets it as a hint."""
        if not output or not output.strip():
            return Verdict(False, "empty")
        quick = shortcut(extracted, reference) if marked else None
        if quick is not None:
            return Verdict(quick[0], quick[1])
        hint = extracted if marked and extracted and len(extracted) <= MAX_SHORTCUT_CHARS * 10 else None
        precision = near(extracted, reference) if marked else None
        if hint and precision is None and clearly_different(hint, reference):
            return Verdict(False, "numeric")
        result = self.checker.judge(gold_text(reference), self._pred_text(output, hint), hint, precision)
        if result.equal is None:
            return Verdict(
                False, "math-verify", TIMEOUT if result.note == TIMEOUT else result.note or "undecided"
            )
        return Verdict(result.equal, "math-verify", "" if result.equal else result.note)

    @staticmethod
    def _pred_text(output: str, hint: str | None) -> str:
        """What Math-Verify reads of the output: its tail, except when the output has no math
        markup at all (no `$`, `\\(`, `\\[`, `\\boxed`) and fnforge found a LaTeX expression
        in it; then that expression, boxed. (Math-Verify reads undelimited LaTeX in prose poorly:
        `The answer is -(\\frac{37}{4} m).` reads as 37/4.)"""
        tail = output[-MAX_OUTPUT_CHARS:]
        if hint and "\\" in hint and looks_like_math(hint) and not _MATH_MARKUP.search(tail):
            return "\\boxed{" + hint + "}"
        return tail

    def readable(self, reference: str) -> str | None:
        """None when Math-Verify reads an answer in the reference within the limit, else why not."""
        result = self.checker.readable(gold_text(reference))
        if result.equal:
            return None
        if result.note == TIMEOUT:
            return f"reading it took longer than the {self.checker.timeout_s:g}s limit"
        return result.note or "no mathematical answer found in it"
