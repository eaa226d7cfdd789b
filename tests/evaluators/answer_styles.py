"""How agents write answers, and how to get an answer slightly wrong: outputs for the whole-file tests.

`right_outputs` writes a reference answer the ways agents do (bare, `The answer is X.`,
`Answer: X`, bold, boxed, with unit / currency / thousands separators, a choice's letter or
text), each after a line of reasoning full of other numbers so that taking the first number
fails. `wrong_outputs` writes perturbed answers (off by one, by a factor, sign, a changed
fraction, another choice) the same ways.
"""

from __future__ import annotations

import re
from fractions import Fraction

from fnforge.evaluators.numbers import parse_number

REASONING = "First, 3 + 4 = 7, and 12 * 2 = 24; half of 10 is 5.\n"
LETTERS = "ABCDEFGHIJ"


def styles(answer: str, *, latex: bool) -> dict[str, str]:
    """The answer in every plain agent style (name -> full output)."""
    out = {
        "bare": answer,
        "the_answer_is": f"{REASONING}The answer is {answer}.",
        "answer_colon": f"{REASONING}Answer: {answer}",
        "bold": f"{REASONING}So the result is **{answer}**",
        "boxed": f"{REASONING}\\boxed{{{answer}}}",
        "final_answer_bold": f"{REASONING}**Final answer:** {answer}",
    }
    if latex:
        out["dollar_math"] = f"{REASONING}The answer is ${answer}$."
    return out


def with_thousands(value: Fraction) -> str | None:
    """`1080` -> `1,080` (None when the number is below 1000 or not an integer)."""
    if value.denominator != 1 or abs(value) < 1000:
        return None
    return f"{value.numerator:,}"


def number_text(value: Fraction) -> str:
    """A plain decimal spelling of a value (a fraction where the decimal would not terminate)."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{float(value):.10f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == value else f"{value.numerator}/{value.denominator}"


def numeric_perturbations(written: str) -> list[str]:
    """Wrong versions of a written number: off by one, times 2 and 10, sign flipped, fraction changed.

    Scientific notation is perturbed in its mantissa (`4.5e33` -> `5.5e33`), since adding 1 to
    4.5e33 is not a different answer at two significant figures.
    """
    s = written.strip()
    m = re.fullmatch(r"(-?)(\d+)/(\d+)", s)
    if m:
        sign, num, den = m.groups()
        return [
            f"{sign}{int(num) + 1}/{den}",
            f"{sign}{num}/{int(den) + 1}",
            f"{'' if sign else '-'}{num}/{den}",
        ]
    m = re.fullmatch(r"(-?\d*\.?\d+)e(-?\d+)", s)
    if m:
        mant, exp = Fraction(m.group(1)), m.group(2)
        return [
            f"{number_text(mant + 1)}e{exp}",
            f"{number_text(mant * 2)}e{exp}",
            f"{number_text(mant)}e{int(exp) + 1}",
            f"{number_text(-mant)}e{exp}",
        ]
    number = parse_number(s)
    if number is None:
        return []
    v = number.value
    wrong = [v + 1, v - 1, v * 2, v * 10]
    if v != 0:
        wrong.append(-v)
    return [number_text(w) for w in wrong if w != v]


_INT = re.compile(r"(?<![\\a-zA-Z_^{])\d+")


def latex_perturbations(reference: str) -> list[str]:
    """Wrong versions of a LaTeX answer: its first integer changed by one, its sign flipped."""
    wrong = numeric_perturbations(reference)
    if wrong:
        return wrong
    out = []
    m = _INT.search(reference)
    if m:
        out.append(reference[: m.start()] + str(int(m.group(0)) + 1) + reference[m.end() :])
    if "=" in reference:
        lhs, rhs = reference.split("=", 1)
        out.append(f"{lhs}=({rhs})+1")
    else:
        out.append(f"-({reference})")
    return out


_UNIT_END = re.compile(r"\$|\n|\\\]|\\\)|\\\\|\\end|,|=|\\quad|\\simeq|\\pm|\.\s|(?<![\^{\-_])\d")


def unit_after_box(solution: str, reference: str) -> str | None:
    """The unit a MATH solution writes right after its final `\\boxed{}` (`\\mathrm{~cm}`, `eV`)."""
    start = solution.rfind("\\boxed{" + reference + "}")
    if start < 0:
        return None
    tail = solution[start + len("\\boxed{" + reference + "}") :]
    unit = _UNIT_END.split(tail, maxsplit=1)[0].strip().rstrip(".")
    words = re.findall(r"[A-Za-z]+", re.sub(r"\\[A-Za-z]+", "", unit))
    if not unit or len(unit) > 40 or len(words) > 2 or unit.startswith(("[", "\\[")):
        return None
    return unit
