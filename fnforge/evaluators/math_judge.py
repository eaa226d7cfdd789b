"""Whether an agent's output answers a MATH reference: Math-Verify decides; fnforge short-cuts
only answers whose Math-Verify verdict is certain (it could not decide otherwise).

Math-Verify (HuggingFace) reads the final answer out of free text and compares it with the
reference symbolically: several `\\boxed{}` answers, `\\boxed{1},\\boxed{2}`, answers joined by
"and", sets and intervals written as inequalities, matrices, tuples in `\\left( \\right)`,
units and `\\text{}` around numbers, `x \\approx 11`. It runs in a killable worker under the
per-item time limit (`symbolic`), so no input can hang a check. The reference is given to it
as `gold_texts` says, the output as `MathJudge._pred_text` says.

A verdict is fnforge's own only where Math-Verify's is certain: the output is one
`\\boxed{X}` (or `$\\boxed{X}$`) and nothing else, so Math-Verify reads X and only X, and the
reference carries no math markup, so it reads `\\boxed{reference}`; then both sides go
through the same reading and fnforge decides (a prose output with a LaTeX answer span is
given to Math-Verify as that span, boxed, so the same holds for it)
- "equal" when X is the reference character for character (`sole_box_verdict`, "string");
- "equal" or "different" when both are plain numbers (`-12`, `0.25`, at most 12 digits),
  where Math-Verify's comparison is exact ("number");
- "different" when both are everyday expressions that differ at sample points
  (`latex_numeric`, which reads only what Math-Verify reads the same way; "numeric").
Two prose forms are certain too: plain text ending on the line `The answer is N.` (no other
"answer") or on `**N**` (no "answer" at all), with no LaTeX, brackets or percent in it, is
read by Math-Verify as the number N (`prose_answer_number`), compared like two plain numbers;
against a bare `4.5e33` reference, which Math-Verify reads as 4.5·e·33 (`euler_reading`), an
N far from that value is wrong.
Everything else goes to Math-Verify; the differential test (`tests/evaluators/
test_eval_math_differential.py`) holds these short-cuts to Math-Verify's verdicts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from fnforge.evaluators.latex_numeric import numeric_verdict
from fnforge.evaluators.symbolic import TIMEOUT, SymbolicChecker

MAX_SHORTCUT_CHARS = 200  # longer spans go to Math-Verify (the shortcuts' cost stays bounded)
MAX_SAMPLED_CHARS = 600  # the sample-point reader's input (a recursive descent, linear)
MAX_OUTPUT_CHARS = 20_000  # the final answer is at the end; Math-Verify reads this much of the tail

_WRAPPERS = re.compile(r"\\(?:left|right|displaystyle|big|Big|bigg|Bigg)(?![a-zA-Z])")
_FRAC = re.compile(r"\\[dtc]frac")
_SOLE_BOX = re.compile(r"\s*(\$?)\\boxed\{(.+)\}\1\s*", re.DOTALL)
# a plain number Math-Verify compares exactly: no leading zeros, at most 12 digits in all
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
# prose whose only answer cue is a last line `The answer is N.`, with nothing Math-Verify reads
# as LaTeX (`\\`, `$`, `[ ]`) or as a percentage, and no other "answer"
_PROSE_ANSWER = re.compile(r"The answer is (-?[0-9.]+)(?:e-?[0-9]+)?\.")  # `4.5e33` reads as 4.5 there
_PROSE_BOLD = re.compile(
    r"(?:.*\s)?\*\*(-?[0-9.]+)(?:e-?[0-9]+)?\*\*"
)  # `So it is **N**`, no "answer" at all
# a bare `4.5e33` reference: Math-Verify reads it as LaTeX, 4.5 e 33 with e Euler's number
_E_NOTATION = re.compile(r"(-?)([0-9]+(?:\.[0-9]+)?)e(-?)([0-9]{1,3})")
MAX_READ_DIGITS = 60
_NOT_PLAIN_PROSE = re.compile(r"[\\$\[\]{}%]|percent|pct", re.IGNORECASE)
MAX_PLAIN_DIGITS = 12
# groups whose text Math-Verify may drop (`\\text{ cm}`, spacing): a spelling left only with them
# can read as nothing, and nothing is never equal
_DROPPABLE = re.compile(r"\\(?:text\w*|math\w*|mbox|operatorname|[hv]space|h?phantom)\s*\{[^{}]*\}")
# what the sample-point reader may see: no words (units, `\\text`), relations or sets
_READABLE = re.compile(r"(?:[\d.+\-*/^(){}\[\]_!|=\s]|\\[A-Za-z]+|(?<![A-Za-z])[A-Za-z](?![A-Za-z]))+")
_BIG_OPERATOR = re.compile(r"\\(?:sum|prod|int|oint|lim|binom|choose|min|max)(?![A-Za-z])")
_MATH_MARKUP = re.compile(r"\$|\\\(|\\\[|\\boxed")
_ANSWER_WORD = re.compile(r"answer", re.IGNORECASE)  # Math-Verify's anchors; a span holding it is its call
_PERCENT = re.compile(r"%|percent|pct", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")  # Math-Verify's plain-text reading: a decimal comma

_PROSE = re.compile(r"(?<![\\{_^a-zA-Z])[a-zA-Z]{3,}\s+[a-zA-Z]{3,}\s+[a-zA-Z]{3,}\b")
_TEXT_COMMAND = re.compile(r"\\(?:text|mathrm|mbox|operatorname)\s*\{[^{}]*\}")


def looks_like_math(line: str) -> bool:
    """A span that is an expression rather than a sentence (no three words in a row)."""
    return not _PROSE.search(_TEXT_COMMAND.sub(" ", line))


def sole_box(output: str) -> str | None:
    """X when the output is `\\boxed{X}` or `$\\boxed{X}$` and nothing else (one box, braces
    balanced, no answer anchor inside): then Math-Verify reads X and only X. Else None."""
    if len(output) > MAX_SAMPLED_CHARS + 20:
        return None
    m = _SOLE_BOX.fullmatch(output)
    if not m or "\\boxed" in m.group(2) or _ANSWER_WORD.search(m.group(2)):
        return None
    depth = 0
    for ch in m.group(2):
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return None
    return m.group(2) if depth == 0 else None


def _plain_number(text: str) -> Fraction | None:
    s = text.strip()
    if not _PLAIN_NUMBER.fullmatch(s) or sum(c.isdigit() for c in s) > MAX_PLAIN_DIGITS:
        return None
    return Fraction(s)


def sole_box_verdict(content: str, reference: str) -> tuple[bool, str] | None:
    """(verdict, how) for an output that is only `\\boxed{content}`, where Math-Verify's verdict
    is certain; else None. Same characters read the same way, and a spelling left with a digit
    once text and spacing groups are set aside never reads as nothing ("string"). Two plain
    numbers of at most 12 digits are equal for Math-Verify exactly when their values are:
    integers compare exactly, and it rounds a decimal at 6 places, finer than any value
    difference between such numbers that sympy's 15-digit floats still see ("number")."""
    if len(content) > MAX_SHORTCUT_CHARS or len(reference) > MAX_SHORTCUT_CHARS:
        return None
    if _MATH_MARKUP.search(reference) or _ANSWER_WORD.search(reference):
        return None
    if content.strip() == reference.strip() and re.search(r"\d", _DROPPABLE.sub(" ", content)):
        return True, "string"
    pn, rn = _plain_number(content), _plain_number(reference)
    if pn is None or rn is None:
        return None
    return pn == rn, "number"


def euler_reading(reference: str) -> float | None:
    """What Math-Verify reads a bare `4.5e33` reference as: 4.5·e·33, and `1e-5` as 1·e − 5
    (`-1e-5` as −e − 5), e being Euler's number; None for any other reference."""
    m = _E_NOTATION.fullmatch(reference.strip())
    if not m:
        return None
    sign, mantissa, minus, exponent = m.groups()
    scaled = (-1 if sign else 1) * float(mantissa) * math.e
    return scaled - int(exponent) if minus else scaled * int(exponent)


def prose_answer_number(output: str) -> str | None:
    """N (as written) when the output is plain prose (no LaTeX, brackets or percent) whose last
    line is `The answer is N.` and which says "answer" nowhere else, or which ends on `**N**`
    after a space and never says "answer". Math-Verify then reads N: by its "answer ...
    number" pattern, the first that matches; or, with no "answer", by the number that ends
    last (an expression running into the closing `**` does not parse). A trailing `e33` is
    not read (`4.5e33` reads as 4.5)."""
    if len(output) > MAX_SAMPLED_CHARS * 4 or _NOT_PLAIN_PROSE.search(output):
        return None
    answers, last = len(_ANSWER_WORD.findall(output)), output.strip().rsplit("\n", 1)[-1]
    m = (
        _PROSE_ANSWER.fullmatch(last)
        if answers == 1
        else _PROSE_BOLD.fullmatch(last)
        if answers == 0
        else None
    )
    return m.group(1) if m and _PLAIN_NUMBER.fullmatch(m.group(1)) else None


def clearly_different(extracted: str, reference: str) -> bool:
    """A fast no for everyday expressions (`\\frac{2}{4-\\omega^2}` for `\\frac{1}{4-\\omega^2}`):
    fnforge's own reader evaluates both at sample points in microseconds, where Math-Verify
    needs 10-100 ms to parse and compare. Only a clear difference is taken; equality, and
    anything the reader does not know (relations, units, sets, percent), is Math-Verify's."""
    if max(len(extracted), len(reference)) > MAX_SAMPLED_CHARS or _PERCENT.search(extracted + reference):
        return False
    if _TEXT_COMMAND.search(extracted) or _TEXT_COMMAND.search(reference):  # units: Math-Verify's call
        return False
    if _BIG_OPERATOR.search(extracted) or _BIG_OPERATOR.search(reference):  # `\\sum_{k=0}^{n}`
        return False
    if _MATH_MARKUP.search(reference) or _ANSWER_WORD.search(extracted + reference):
        return False
    p, r = _light(extracted), _light(reference)
    return (
        _READABLE.fullmatch(p) is not None
        and _READABLE.fullmatch(r) is not None
        and numeric_verdict(p, r) is False
    )


def _light(answer: str) -> str:
    """Spelling variants the sample-point reader does not know, removed; spaces kept (`b s`)."""
    return _FRAC.sub(r"\\frac", _WRAPPERS.sub("", answer)).strip()


def gold_text(reference: str) -> str:
    """The reference as Math-Verify reads it: text with math markup as it is, bare LaTeX boxed."""
    return reference if _MATH_MARKUP.search(reference) else "\\boxed{" + reference + "}"


def gold_texts(reference: str) -> list[str]:
    """Every reading of the reference Math-Verify is given; the output is right when it answers
    any of them. One, `gold_text`, except for a bare `1,22`: Math-Verify reads it as the
    number 1.22 when it is written as text and as the list {1, 22} when boxed, so both."""
    boxed = gold_text(reference)
    return [boxed, reference] if _DECIMAL_COMMA.fullmatch(reference.strip()) else [boxed]


@dataclass(frozen=True)
class Verdict:
    """Right or not, how it was decided (`string`, `number`, `numeric`, `math-verify`, `empty`),
    and why a verdict could not be reached normally (`timeout`, an unreadable reference)."""

    equal: bool
    how: str
    note: str = ""


class MathJudge:
    """Judges one output against one reference: the sole-box short-cuts, then Math-Verify in
    the worker pool."""

    def __init__(self, checker: SymbolicChecker) -> None:
        self.checker = checker

    def check(self, output: str, extracted: str | None, reference: str, marked: bool = True) -> Verdict:
        """The verdict for one output; never raises, never takes longer than the checker's limit.
        `extracted` is the answer span fnforge read; when the output `marked` it (boxed, `The
        answer is`, ...) Math-Verify gets it as a hint (see `_pred_text`)."""
        if not output or not output.strip():
            return Verdict(False, "empty")
        hint = extracted if marked and extracted and len(extracted) <= MAX_SHORTCUT_CHARS * 10 else None
        pred = self._pred_text(output, hint)
        quick = self._quick(pred, reference)
        if quick is not None:
            return quick
        for gold in gold_texts(reference):
            result = self.checker.judge(gold, pred, hint)
            if result.equal is not False:
                break
        if result.equal is None:
            return Verdict(
                False, "math-verify", TIMEOUT if result.note == TIMEOUT else result.note or "undecided"
            )
        return Verdict(result.equal, "math-verify", "" if result.equal else result.note)

    @staticmethod
    def _quick(pred: str, reference: str) -> Verdict | None:
        """fnforge's own verdict where Math-Verify's is certain, else None. `pred` is what
        Math-Verify would read: a sole box (the output, or fnforge's answer span boxed), or
        prose ending on `The answer is N.`; see the module docstring."""
        content = sole_box(pred)
        if content is not None:
            quick = sole_box_verdict(content, reference)
            if quick is not None:
                return Verdict(*quick)
            return Verdict(False, "numeric") if clearly_different(content, reference) else None
        written = prose_answer_number(pred)
        if written is None or _MATH_MARKUP.search(reference) or len(reference) > MAX_SHORTCUT_CHARS:
            return None
        number, ref, euler = _plain_number(written), _plain_number(reference), euler_reading(reference)
        if number is not None and ref is not None:
            return Verdict(number == ref, "number")
        if euler is not None and len(written) <= MAX_READ_DIGITS:  # a number is never e·33: far from it, no
            far = abs(float(Fraction(written)) - euler) > 1e-3 * max(1.0, abs(euler))
            return Verdict(False, "number") if far else None
        return None

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
