"""fnforge's MATH verdict is Math-Verify's: a differential test over generated answers.

Every pair (reference, output) is judged twice: by fnforge (`MathEvaluator.judge`, with its
short-cuts and its Math-Verify worker) and, in this process, by Math-Verify itself,
`verify(parse(gold), parse(output))` with the settings fnforge documents (the reference read
as `gold_texts` gives it, the extraction configs of `symbolic_worker.extraction_configs`,
`verify`'s defaults). Any pair judged differently fails the test, named in the message.

The pairs come from the shipped Minerva slice (`tests/data/math`) and from hypothesis, in
the forms where a short-cut used to decide differently: sets and lists, answers joined by
"and"/"or", several boxes, intervals, matrices with decimals, units, percentages, plain
numbers and everyday expressions. The generated outputs carry math markup (a box or `$`),
as the MATH instruction asks, except the prose form, which fnforge reads through its boxed
answer span when that span is LaTeX (`MathJudge._pred_text`, `latex_span`) and is compared
with Math-Verify reading that box.
Hypothesis runs derandomized (the same pairs in every run) without shrinking: a batch that
differs is reported pair by pair, which is what a reader needs.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import pytest
from answer_styles import latex_perturbations
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fnforge.evaluators import Task
from fnforge.evaluators.extract import boxed_contents
from fnforge.evaluators.math_judge import euler_reading, gold_texts
from fnforge.evaluators.math_problems import MathEvaluator
from fnforge.evaluators.symbolic_worker import extraction_configs

MATH = MathEvaluator(timeout_s=10.0)
SLICE = Path(__file__).resolve().parents[1] / "data" / "math" / "minerva_math.jsonl"
BATCH = 25  # pairs per hypothesis example


@lru_cache(maxsize=1)
def _configs() -> tuple[list, list]:
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled": no signals here
    return extraction_configs()


@lru_cache(maxsize=4096)
def _gold(text: str) -> list:
    from math_verify import parse

    return parse(text, _configs()[0], parsing_timeout=None)


def mathverify(reference: str, output: str) -> bool:
    """Math-Verify's own verdict with fnforge's documented settings: the output answers one of
    the reference's readings (`gold_texts`)."""
    from math_verify import parse, verify

    pred = parse(output, _configs()[1], parsing_timeout=None)
    return any(bool(verify(_gold(gold), pred, timeout_seconds=None)) for gold in gold_texts(reference))


def _mathverify_pair(pair: tuple[str, str]) -> bool:
    return mathverify(*pair)


@pytest.fixture(scope="module")
def oracle_pool():
    """Two processes running Math-Verify for the comparison, while fnforge judges on two threads."""
    mathverify("1", "\\boxed{1}")  # import and warm Math-Verify once, before the fork
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool


def assert_same_verdicts(pool: ProcessPoolExecutor, pairs: list[tuple[str, str]], oracle_output=None) -> None:
    """Judge every distinct pair both ways and fail with every pair they judge differently."""
    pairs = list(dict.fromkeys(pairs))
    read = [(ref, oracle_output(out) if oracle_output else out) for ref, out in pairs]
    theirs_future = pool.map(_mathverify_pair, read, chunksize=8)
    tasks = [Task(id=str(i), inputs={"question": "?"}, reference=ref) for i, (ref, _) in enumerate(pairs)]
    with ThreadPoolExecutor(2) as threads:
        ours = list(threads.map(lambda tp: MATH.judge(tp[0], tp[1][1]), zip(tasks, pairs, strict=True)))
    theirs = list(theirs_future)
    different = [
        f"reference={ref!r} output={out!r}: fnforge {o.correct} ({o.note or 'no note'}), Math-Verify {t}"
        for (ref, out), o, t in zip(pairs, ours, theirs, strict=True)
        if o.correct != t
    ]
    assert not different, f"{len(different)} of {len(pairs)} pairs judged differently:\n" + "\n".join(
        different
    )


# ---- building blocks --------------------------------------------------------------------

INTEGERS = st.integers(-30, 30).map(str)
DECIMALS = st.builds(
    lambda a, b: f"{a}.{b}", st.integers(-9, 20), st.sampled_from(["5", "25", "75", "1", "62", "333"])
)
FRACTIONS = st.builds(lambda a, b: f"\\frac{{{a}}}{{{b}}}", st.integers(1, 9), st.integers(2, 9)) | st.builds(
    lambda a, b: f"-\\frac{{{a}}}{{{b}}}", st.integers(1, 9), st.integers(2, 9)
)
SURDS = st.builds(lambda a, b: f"{a}\\sqrt{{{b}}}", st.integers(1, 5), st.sampled_from([2, 3, 5]))
NUMBERS_ONLY = st.one_of(INTEGERS, DECIMALS, FRACTIONS)
VALUES = st.one_of(INTEGERS, DECIMALS, FRACTIONS, SURDS)
NEAR_NUMBERS = st.one_of(
    st.integers(-20, 20).flatmap(
        lambda n: st.sampled_from(
            [
                str(n),
                str(n + 1),
                f"{n}.0",
                f"{n}.5",
                f"{n}.25",
                str(-n),
                f"{n}.000001",
                f"0{abs(n)}",
                f"{n},5",
            ]
        )
    ),
    st.integers(10**10, 10**14).flatmap(
        lambda n: st.sampled_from([str(n), f"{n}.5", f"{n // 1000}.{n % 1000}"])
    ),
)


def _decimal(value: str) -> str:
    """A decimal spelling of a simple value (fractions to a few places), else the value."""
    if value.startswith(("\\frac", "-\\frac")):
        sign = "-" if value.startswith("-") else ""
        num, den = (int(part.rstrip("}")) for part in value.split("{")[1:3])
        return f"{sign}{num / den:.{[2, 3, 6][(num + den) % 3]}f}"
    return value


def _pairs(draw_reference, outputs):
    """A strategy of (reference, output) from a reference strategy and a function giving the
    outputs to pick from for that reference's parts."""
    return draw_reference.flatmap(lambda ref: st.sampled_from(outputs(*ref)).map(lambda out: (ref[0], out)))


def _written(parts, spellings):
    """A reference strategy: drawn parts `v`, and the reference written one of `spellings(v)` ways,
    as (reference, *parts) for `_pairs`."""
    return parts.flatmap(lambda v: st.sampled_from(spellings(v)).map(lambda ref: (ref, *v)))


# ---- the forms --------------------------------------------------------------------------


def _set_outputs(ref: str, a: str, b: str, c: str) -> list[str]:
    return [
        f"\\boxed{{{a}, {b}}}",
        f"\\boxed{{{b}, {a}}}",
        f"$\\boxed{{\\{{{a}, {b}\\}}}}$",
        f"The solutions are $\\{{{b}, {a}\\}}$.",
        f"\\boxed{{{a}, {b}, {c}}}",
        f"\\boxed{{{a}}}",
        f"\\boxed{{({a}, {b})}}",
        f"\\boxed{{[{a}, {b}]}}",
        f"So $x = {a}$ or $x = {b}$.",
    ]


SETS = _pairs(  # (no surds: Math-Verify compares sets of surds slowly, ~60 ms a pair)
    _written(
        st.tuples(NUMBERS_ONLY, NUMBERS_ONLY, NUMBERS_ONLY),
        lambda v: [f"{v[0]}, {v[1]}", f"{v[0]},{v[1]}", f"\\{{{v[0]}, {v[1]}\\}}", f"({v[0]}, {v[1]})"],
    ),
    _set_outputs,
)


def _join_outputs(ref: str, a: str, b: str, c: str) -> list[str]:
    return [
        f"$\\boxed{{{a}}}$ and $\\boxed{{{b}}}$",
        f"The answers are ${a}$ and ${b}$.",
        f"The answer is ${a}$ or ${b}$.",
        f"$x = {b}$ or $x = {a}$",
        f"${a}, {b}$",
        f"\\boxed{{{a}, {b}}}",
        f"$\\boxed{{{a}}}$ and $\\boxed{{{c}}}$",
        f"The answer is ${b}$.",
    ]


JOINS = _pairs(
    _written(
        st.tuples(VALUES, VALUES, VALUES),
        lambda v: [f"{v[0]}$ and ${v[1]}", f"${v[0]}$ or ${v[1]}$", f"{v[0]}, {v[1]}"],
    ),
    _join_outputs,
)


def _box_outputs(ref: str, a: str, b: str, c: str) -> list[str]:
    return [
        f"\\boxed{{{a}}}, \\boxed{{{b}}}",
        f"\\boxed{{{b}}} and \\boxed{{{a}}}",
        f"\\boxed{{{a}}} or \\boxed{{{c}}}",
        f"First \\boxed{{{c}}}.\nFinally \\boxed{{{a}}}",
        f"\\boxed{{{a}}}\\boxed{{{b}}}",
        f"$\\boxed{{{a}}}, \\boxed{{{b}}}, \\boxed{{{c}}}$",
        f"So the answer is \\boxed{{{a}}}.",
    ]


BOXES = _pairs(
    _written(
        st.tuples(VALUES, VALUES, VALUES), lambda v: [v[0], f"{v[0]}, {v[1]}", f"\\{{{v[0]}, {v[1]}\\}}"]
    ),
    _box_outputs,
)


def _interval_outputs(ref: str, a: str, b: str, c: str) -> list[str]:
    return [
        f"\\boxed{{({a}, {b}]}}",
        f"\\boxed{{[{a}, {b})}}",
        f"\\boxed{{({a}, {b})}}",
        f"$x \\in ({a}, {b}]$",
        f"$\\boxed{{{a} < x \\le {b}}}$",
        f"\\boxed{{(-\\infty, {a}) \\cup ({b}, \\infty)}}",
        f"\\boxed{{({a}, {c}]}}",
        f"\\boxed{{\\left({a}, {b}\\right]}}",
    ]


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if int(a) < int(b) else (b, a)


INTERVALS = _pairs(
    st.tuples(INTEGERS, INTEGERS, INTEGERS)
    .filter(lambda v: v[0] != v[1])
    .flatmap(
        lambda v: st.sampled_from(
            [
                "({}, {}]".format(*_ordered(v[0], v[1])),
                "[{}, {})".format(*_ordered(v[0], v[1])),
                "x \\in ({}, {}]".format(*_ordered(v[0], v[1])),
                "(-\\infty, {}) \\cup ({}, \\infty)".format(*_ordered(v[0], v[1])),
            ]
        ).map(lambda ref: (ref, *_ordered(v[0], v[1]), v[2]))
    ),
    _interval_outputs,
)


def _matrix(entries: list[str], rows: int) -> str:
    return f"\\begin{{pmatrix}} {_rows(entries, rows)} \\end{{pmatrix}}"


def _matrix_outputs(ref: str, entries: list[str], rows: int) -> list[str]:
    decimals = [_decimal(e) for e in entries]
    changed = [*decimals[:-1], _decimal(entries[-1]) + "1"]
    return [
        f"\\boxed{{{_matrix(decimals, rows)}}}",
        f"$\\boxed{{{_matrix(entries, rows)}}}$",
        f"The matrix is ${_matrix(decimals, rows)}$.",
        f"\\boxed{{{_matrix(changed, rows)}}}",
        f"\\boxed{{\\left[\\begin{{array}}{{{'c' * (len(entries) // rows)}}}{_rows(decimals, rows)}"
        "\\end{array}\\right]}",
    ]


def _rows(entries: list[str], rows: int) -> str:
    per_row = len(entries) // rows
    return " \\\\ ".join(" & ".join(entries[r * per_row : (r + 1) * per_row]) for r in range(rows))


MATRICES = (
    st.tuples(
        st.lists(st.one_of(INTEGERS, FRACTIONS, DECIMALS), min_size=2, max_size=4), st.sampled_from([1, 2])
    )
    .filter(lambda t: len(t[0]) % t[1] == 0)
    .flatmap(
        lambda t: st.sampled_from(_matrix_outputs(_matrix(t[0], t[1]), t[0], t[1])).map(
            lambda out: (_matrix(t[0], t[1]), out)
        )
    )
)

UNIT_WORDS = ["cm", "m", "km", "kg", "s", "inches", "dollars", "degrees", "miles"]


def _unit_outputs(ref: str, n: str, unit: str, m: str) -> list[str]:
    return [
        f"\\boxed{{{n}\\text{{ {unit}}}}}",
        f"\\boxed{{{n} \\mathrm{{~{unit}}}}}",
        f"\\boxed{{{n}}} {unit}",
        f"The length is ${n}$ {unit}.",
        f"\\boxed{{{n}}}",
        f"\\boxed{{{m}\\text{{ {unit}}}}}",
        f"\\boxed{{{n}^\\circ}}",
        f"$\\boxed{{{n}\\,\\text{{{unit}}}}}$",
    ]


UNITS = _pairs(
    _written(
        st.tuples(st.one_of(INTEGERS, DECIMALS), st.sampled_from(UNIT_WORDS), st.one_of(INTEGERS, DECIMALS)),
        lambda v: [v[0], f"{v[0]}\\text{{ {v[1]}}}", f"{v[0]} \\mathrm{{~{v[1]}}}", f"{v[0]}^\\circ"],
    ),
    _unit_outputs,
)


def _percent_outputs(ref: str, p: str, q: str) -> list[str]:
    fraction = str(int(p) / 100)
    return [
        f"\\boxed{{{p}\\%}}",
        f"\\boxed{{{p}}}",
        f"\\boxed{{{fraction}}}",
        f"The answer is ${p}\\%$.",
        f"$\\boxed{{{p}}}\\%$",
        f"\\boxed{{{q}\\%}}",
        f"\\boxed{{{p} \\text{{ percent}}}}",
    ]


PERCENTS = _pairs(
    _written(
        st.tuples(st.integers(0, 150).map(str), st.integers(0, 150).map(str)),
        lambda v: [f"{v[0]}\\%", v[0], str(int(v[0]) / 100)],
    ),
    _percent_outputs,
)

NUMBER_OUTPUTS = [
    "\\boxed{{{}}}",
    "$\\boxed{{{}}}$",
    "The answer is ${}$.",
    "The answer is {}.",
    "Let me work it out: 3 + 4 = 7.\nThe answer is {}.",
    "First, 12 * 2 = 24.\nThe answer is {}.",
    "I answered 7 first.\nThe answer is {}.",
    "We have x = 3.\nThe answer is {}.",
    "The answer is {} percent.",
    "The final answer is {}.",
    "So it is **{}**",
    "**{}**",
    "First, 12 * 2 = 24.\nSo it is **{}**",
    "We get 7 **{}**",
    "So 3 + **{}**",
    "So x = **{}**",
    "Answer: {}",
    "The answer is {}",
]
# references in scientific notation as the Minerva file writes them (`4.5e33`, `1e-5`), which
# Math-Verify reads as LaTeX (4.5 e 33, e Euler's number), against numbers far from and near
# that reading, huge integers, and the same notation
E_NOTATION = st.builds(
    lambda sign, a, minus, b: f"{sign}{a}e{minus}{b}",
    st.sampled_from(["", "-"]),
    st.sampled_from(["1", "3", "4.5", "2.7778", "1.70", "0.5"]),
    st.sampled_from(["", "-"]),
    st.integers(1, 40),
)


def _near_reading(reference: str) -> list[str]:
    value = euler_reading(reference)
    return [] if value is None else [f"{value:.6f}", f"{value:.3f}", f"{value:.0f}", f"{value:.9f}"]


NUMBERS = st.tuples(
    st.one_of(NEAR_NUMBERS, E_NOTATION),
    st.one_of(NEAR_NUMBERS, E_NOTATION, st.integers(10**20, 10**40).map(str)),
    st.sampled_from(NUMBER_OUTPUTS),
).flatmap(
    lambda t: st.sampled_from([t[1], *_near_reading(t[0])]).map(lambda value: (t[0], t[2].format(value)))
)

TEMPLATES = [
    "{a}x^2 + {b}x + {c}",
    "\\frac{{{a}}}{{x + {b}}}",
    "{a}\\sqrt{{{b}}}",
    "\\frac{{{a}\\pi}}{{{b}}}",
    "(x + {a})(x - {b})",
    "{a}e^{{{b}t}}",
    "\\sin({a}x) + {c}",
    "\\frac{{{a}}}{{4 - \\omega^{{2}}}}",
    "{a}\\alpha + {b}\\beta",
    "\\ln({a}) + {c}",
    "{a} - {b}i",
    "\\left(\\frac{{{a}}}{{{b}}}\\right)^{{2}}",
    "{a}x^{{{b}}}",
]


def _expression_outputs(template: str, a: int, b: int, c: int) -> list[str]:
    ref = template.format(a=a, b=b, c=c)
    moved = template.format(a=a + 1, b=b, c=c)
    return [
        f"\\boxed{{{ref}}}",
        f"\\boxed{{{moved}}}",
        f"\\boxed{{{template.format(a=a, b=b, c=c + 1)}}}",
        f"$\\boxed{{{ref.replace('frac', 'dfrac')}}}$",
        f"\\boxed{{{ref.replace(' ', '')}}}",
        f"The answer is {moved}.",
        f"The answer is {ref}.",
    ]


EXPRESSIONS = st.tuples(
    st.sampled_from(TEMPLATES), st.integers(1, 9), st.integers(1, 9), st.integers(0, 9)
).flatmap(
    lambda t: st.sampled_from(_expression_outputs(*t)).map(
        lambda out: (t[0].format(a=t[1], b=t[2], c=t[3]), out)
    )
)

# each form and the distinct pairs it must reach: 5,050 in all (sets, intervals, matrices
# and expressions cost Math-Verify 15-40 ms of CPU a pair, numbers, units and percentages
# ~2 ms, so the cheap forms carry more of the count; the file takes ~100 s of CPU)
FORMS = {
    "sets and lists": (SETS, 200),
    "and/or joins": (JOINS, 400),
    "several boxes": (BOXES, 350),
    "intervals": (INTERVALS, 150),
    "matrices with decimals": (MATRICES, 200),
    "units": (UNITS, 950),
    "percentages": (PERCENTS, 900),
    "plain numbers": (NUMBERS, 1200),
    "everyday expressions": (EXPRESSIONS, 450),
    "expressions written in prose": (
        EXPRESSIONS.filter(lambda p: not p[1].startswith(("\\boxed", "$"))),
        250,
    ),
}


def _prose_box(output: str) -> str:
    """Math-Verify given what fnforge documents for prose: its answer span, boxed, when the
    span is LaTeX (a command, or `^`/`_` scripts each one character or braced, and no word)."""
    if not output.startswith("The answer is ") or "$" in output:
        return output
    span = output[len("The answer is ") : -1]
    scripts = re.findall(r"[\^_](\{|[A-Za-z0-9](?![A-Za-z0-9])|)", span)  # "" for `10^33`
    in_latex = "\\" in span or (bool(scripts) and all(scripts) and not re.search(r"[A-Za-z]{2}", span))
    return "\\boxed{" + span + "}" if in_latex else output


@pytest.mark.parametrize("form", list(FORMS))
def test_generated_pairs_are_judged_as_math_verify_judges_them(form: str, oracle_pool) -> None:
    pairs_of_form, quota = FORMS[form]

    @settings(
        max_examples=quota * 8 // (5 * BATCH),  # drawn pairs repeat: 1.6 times as many
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(st.lists(pairs_of_form, min_size=BATCH, max_size=BATCH, unique=True))
    def check(pairs: list[tuple[str, str]]) -> None:
        seen.update(pairs)
        assert_same_verdicts(oracle_pool, pairs, _prose_box)

    seen: set[tuple[str, str]] = set()
    check()
    assert len(seen) >= quota, f"only {len(seen)} distinct pairs of the form {form!r}"


def _slice_references() -> list[str]:
    refs = []
    for line in SLICE.read_text(encoding="utf-8").splitlines():
        boxes = boxed_contents(json.loads(line)["solution"])
        refs.append(boxes[-1].strip())
    return refs


def test_the_shipped_math_slice_in_every_form_is_judged_as_math_verify_judges_it(oracle_pool) -> None:
    pairs = []
    references = _slice_references()
    for i, ref in enumerate(references):
        other = references[(i + 1) % len(references)]
        wrongs = latex_perturbations(ref)
        outputs = [
            f"\\boxed{{{ref}}}",
            f"$\\boxed{{{ref}}}$",
            f"The answer is ${ref}$.",
            f"\\boxed{{{other}}}, \\boxed{{{ref}}}",
            f"\\boxed{{{ref}}} and \\boxed{{{other}}}",
            f"\\boxed{{{ref}, {other}}}",
            f"$\\boxed{{{ref}}}$ or $\\boxed{{{other}}}$",
            f"\\boxed{{{ref}\\%}}",
            f"\\boxed{{{ref}\\text{{ cm}}}}",
            *(f"\\boxed{{{w}}}" for w in wrongs),
            *(f"The answer is ${w}$." for w in wrongs),
        ]
        pairs += [(ref, out) for out in outputs]
    assert len(pairs) >= 300
    assert_same_verdicts(oracle_pool, pairs)
