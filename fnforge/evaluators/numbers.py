"""Reading a number the way people write one: `$1,234.50`, `12%`, `-3/4`, `2 1/2`, `4.5e33`.

Every task compares numbers, and agents decorate them (currency, separators, units, a
trailing full stop). One reader, shared by the evaluators, keeps those habits from being
judged as wrong answers. Values are exact `Fraction`s so `0.1 + 0.2` style noise never
decides a verdict; each number also carries the size of its last written digit, which the
MATH evaluator needs to accept an answer given to more significant figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

MAX_EXPONENT = 400  # 10**400 is already absurd for an answer; larger would make Fraction slow

_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
_SIGN = r"[-+\u2212]?"
# a number as written in running text: sign, currency, then a fraction (`3/4`, `2 1/2`,
# `\\frac{3}{4}`) or digits with optional thousands separators, decimals and exponent
NUMBER_IN_TEXT = re.compile(
    rf"(?<![\w.\\/]){_SIGN}(?:\\?\$\s?)?"
    r"(?:\\[dt]?frac\{\d+\}\{\d+\}|(?:\d+ )?\d+\s?/\s?\d+(?![\d.,/])|"
    rf"(?:{_DIGITS})(?:[eE][-+]?\d+)?)(?![\w])"
)

_CURRENCY = re.compile(r"^(?:\\\$|\$|US\$|USD|€|£|¥|Rs\.?)\s*")
_SCI_TIMES = re.compile(r"\s*(?:\\times|\\cdot|\*|x|×|·)\s*10\s*\^\s*\{?\s*([-+\u2212]?\d+)\s*\}?$")
_DECIMAL = re.compile(rf"^({_SIGN})((?:{_DIGITS}))(?:[eE]([-+]?\d+))?$")
_FRACTION = re.compile(rf"^({_SIGN})\s*(\d+)\s*/\s*(\d+)$")
_MIXED = re.compile(rf"^({_SIGN})(\d+)\s+(\d+)\s*/\s*(\d+)$")
_LATEX_FRAC = re.compile(rf"^({_SIGN})\s*\\[dt]?frac\s*\{{\s*(\d+)\s*\}}\s*\{{\s*(\d+)\s*\}}$")
_LATEX_FRAC_SHORT = re.compile(rf"^({_SIGN})\s*\\[dt]?frac\s*(\d)(\d)$")


@dataclass(frozen=True)
class Number:
    """A parsed number: exact value, the size of its last written digit, and whether it had `%`.

    `quantum` is 10**-decimals (times the power of ten of scientific notation): `4.5e33` has
    quantum 1e32, `20.39` has 0.01, `400000` has 1; it is None for fractions, which are exact.
    """

    value: Fraction
    quantum: Fraction | None
    percent: bool = False


def _sign(s: str) -> int:
    return -1 if s in ("-", "\u2212") else 1


@lru_cache(maxsize=65536)
def parse_number(text: str) -> Number | None:
    """The number that `text` is, or None when it is not just a number.

    Accepts a currency sign in front, a `%` (or `\\%`) behind, thousands separators
    (`1,234`, `1{,}234`, thin spaces), decimals, `4.5e33`, `4.5 \\times 10^{33}`, fractions
    `3/4` and `\\frac{3}{4}`, and mixed numbers `2 1/2`. Anything else returns None.
    """
    s = text.strip()
    if not s or len(s) > 100:
        return None
    s = s.replace("{,}", ",").replace("\\!", "").replace("\u2009", "").replace("\u202f", "")
    s = s.replace("\\,", "")
    if s.startswith("(") and s.endswith(")") and s.count("(") == 1:
        s = s[1:-1].strip()
    neg_outside = False
    if s[:1] in "-\u2212" and _CURRENCY.match(s[1:].lstrip()):
        neg_outside, s = True, s[1:].lstrip()
    s = _CURRENCY.sub("", s)
    percent = False
    for tail in ("\\%", "%", " percent"):
        if s.endswith(tail):
            percent, s = True, s[: -len(tail)].rstrip()
            break
    exp10 = 0
    m = _SCI_TIMES.search(s)
    if m:
        exp10 = int(m.group(1).replace("\u2212", "-"))
        s = s[: m.start()].rstrip()
        if abs(exp10) > MAX_EXPONENT:
            return None
    number = _plain(s, exp10)
    if number is None:
        return None
    value, quantum = number
    if neg_outside:
        value = -value
    return Number(value, quantum, percent)


def _plain(s: str, exp10: int) -> tuple[Fraction, Fraction | None] | None:
    m = _DECIMAL.match(s)
    if m:
        sign, digits, exp = m.groups()
        e = exp10 + (int(exp) if exp else 0)
        if abs(e) > MAX_EXPONENT:
            return None
        whole, _, frac = digits.replace(",", "").partition(".")
        mantissa = int((whole or "0") + frac) * _sign(sign)
        shift = e - len(frac)  # value = mantissa * 10**shift; the last digit is worth 10**shift
        if shift >= 0:
            return Fraction(mantissa * 10**shift), Fraction(10**shift)
        return Fraction(mantissa, 10**-shift), Fraction(1, 10**-shift)
    if exp10:
        return None
    for pattern in (_FRACTION, _LATEX_FRAC, _LATEX_FRAC_SHORT):
        m = pattern.match(s)
        if m:
            sign, num, den = m.groups()
            if int(den) == 0:
                return None
            return Fraction(int(num), int(den)) * _sign(sign), None
    m = _MIXED.match(s)
    if m:
        sign, whole, num, den = m.groups()
        if int(den) == 0:
            return None
        return (int(whole) + Fraction(int(num), int(den))) * _sign(sign), None
    return None


def canonical(value: Fraction) -> str:
    """A short, stable spelling of a value: `72`, `1234.5`, `-3/7` for non-terminating fractions."""
    if value.denominator == 1:
        return str(value.numerator)
    for places in range(1, 60):  # a terminating decimal: write it exactly
        scaled = value * 10**places
        if scaled.denominator == 1:
            digits = str(abs(scaled.numerator)).rjust(places + 1, "0")
            sign = "-" if value < 0 else ""
            return f"{sign}{digits[:-places]}.{digits[-places:]}"
    return f"{value.numerator}/{value.denominator}"
