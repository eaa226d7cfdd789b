"""TabMWP: math word problems over a small table, free-text numbers or multiple choice.

Numbers are judged like the dataset's own evaluation (`3/4` and `0.75` agree, values are
compared to three decimals, a unit or currency sign around the number is ignored);
multiple-choice answers are judged by the choice they name, by its letter (`(B)`) or its
text; text answers ignore case, spacing and the dots of `P.M.`.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from fnforge.evaluators.extract import final_sentence_number, marked_answer, number_in_span
from fnforge.evaluators.loading import Record, require
from fnforge.evaluators.numbers import canonical, parse_number
from fnforge.evaluators.task import Evaluator, ItemResult, Task

LETTERS = "ABCDEFGHIJ"
# `(B)`, `(B) 7`, `B)`, `B.`, `B` alone; not the article in `A total of 7`
_LETTER = re.compile(r"^(?:\(([A-J])\)|([A-J])[.):]?(?=\s*$)|([A-J])[.):](?=\s))")
_OPTION_LETTER = re.compile(r"\b(?:option|choice)\s*\(?([A-J])\)?", re.IGNORECASE)


def normalize_text(text: str) -> str:
    """Case, spacing, quotes, markdown and the dots of abbreviations do not matter."""
    s = text.lower().replace("\u2019", "'").strip().strip("*_`\"'").strip()
    s = re.sub(r"(?<=[a-z])\.", "", s)  # p.m. -> pm, co. -> co
    s = re.sub(r"\s+", "", s)
    return s.rstrip(".,;:!")


def _rounded(value: Fraction) -> Fraction:
    return round(value, 3)


def _number_of(text: str) -> Fraction | None:
    number = parse_number(text)
    return number.value if number else None


class TabMWPEvaluator(Evaluator):
    """Judges TabMWP answers: numbers to three decimals, choices by letter or text."""

    name = "tabmwp"
    categories = ("ques_type", "grade", "ans_type")

    def task(self, record: Record) -> Task:
        question, answer = require(record, "question", "answer")
        f = record.fields
        choices = [str(c) for c in f.get("choices") or []]
        inputs: dict[str, Any] = {
            "question": str(question),
            "table": str(f.get("table") or ""),
            "table_title": str(f.get("table_title") or ""),
            # a Parquet struct holds every column any row's table has; a column this table lacks is null
            "table_for_pd": {k: v for k, v in dict(f.get("table_for_pd") or {}).items() if v is not None},
            "choices": choices,
            "unit": str(f.get("unit") or ""),
        }
        metadata = {k: f[k] for k in self.categories if f.get(k) is not None}
        return Task(id=record.id, inputs=inputs, reference=str(answer), metadata=metadata)

    def render(self, task: Task) -> str:
        i = task.inputs
        parts = []
        if i.get("table"):
            title = f"{i['table_title']}\n" if i.get("table_title") else ""
            parts.append(f"Table:\n{title}{i['table']}")
        parts.append(f"Question: {i['question']}")
        if i.get("choices"):
            options = " ".join(f"({LETTERS[n]}) {c}" for n, c in enumerate(i["choices"]))
            parts.append(f"Choices: {options}")
            parts.append("End your reply with a final line `Answer: <the text of your choice>`.")
        else:
            unit = f" (in {i['unit']})" if i.get("unit") else ""
            parts.append(
                f"End your reply with a final line `Answer: <your answer>`{unit}, numbers without units."
            )
        return "\n\n".join(parts)

    def direct_arguments(self, task: Task) -> dict[str, Any]:
        i = task.inputs
        table = {str(k): [str(v) for v in col] for k, col in (i.get("table_for_pd") or {}).items()}
        return {
            "question": i["question"],
            "table": table,
            "choices": list(i.get("choices") or []),
            "unit": i.get("unit") or "",
        }

    def extract(self, output: str) -> str | None:
        if not output or not output.strip():
            return None
        span = marked_answer(output)
        if span:
            return span
        number = final_sentence_number(output)
        if number is not None:
            return number
        lines = [ln for ln in output.strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else None

    def choose(self, output: str, choices: list[str]) -> str | None:
        """The choice an output names: its letter, its exact text, or the longest choice it mentions."""
        span = marked_answer(output)
        if span:  # an explicit answer is final: `Answer: 6` names no choice, whatever the reasoning said
            return self._choice_in(span, choices)
        lines = [ln for ln in output.strip().splitlines() if ln.strip()]
        picked = self._choice_in(lines[-1], choices) if lines else None
        return picked if picked is not None else self._mentioned(output[-2000:], choices)

    def _choice_in(self, text: str, choices: list[str]) -> str | None:
        if not text:
            return None
        wanted = normalize_text(text)
        for choice in choices:
            if normalize_text(choice) == wanted:
                return choice
        for m in (_LETTER.match(text.strip().strip("*_`").strip()), _OPTION_LETTER.search(text)):
            letter = next((g for g in m.groups() if g), "") if m else ""
            if letter and LETTERS.index(letter.upper()) < len(choices):
                return choices[LETTERS.index(letter.upper())]
        value = _number_of(text)
        if value is not None:
            for choice in choices:
                if _number_of(choice) == value:
                    return choice
        return self._mentioned(text, choices)

    @staticmethod
    def _mentioned(text: str, choices: list[str]) -> str | None:
        best: tuple[int, int, str] | None = None
        lowered = text.lower()
        for choice in choices:
            pattern = r"(?<![\w])" + re.escape(choice.lower()) + r"(?![\w])"
            hits = [m.start() for m in re.finditer(pattern, lowered)]
            if hits:
                key = (len(choice), hits[-1], choice)
                if best is None or key > best:
                    best = key
        return best[2] if best else None

    def judge(self, task: Task, output: str) -> ItemResult:
        reference = str(task.reference)
        choices = list(task.inputs.get("choices") or [])
        if not output or not output.strip():
            extracted = None
        elif choices:
            extracted = self.choose(output, choices)
        else:
            extracted = self._free_text(output, reference, str(task.inputs.get("unit") or ""))
        correct = extracted is not None and self._same(extracted, reference)
        return ItemResult(
            id=task.id, correct=correct, extracted=extracted, reference=reference, score=float(correct)
        )

    def _free_text(self, output: str, reference: str, unit: str) -> str | None:
        span = marked_answer(output)
        if _number_of(reference) is not None:
            written = number_in_span(span) if span else None
            written = written or final_sentence_number(output)
            value = _number_of(written) if written else None
            return canonical(value) if value is not None else None
        if span is None:
            lines = [ln for ln in output.strip().splitlines() if ln.strip()]
            span = lines[-1] if lines else ""
        if unit and span.lower().endswith(unit.lower()):
            span = span[: -len(unit)].strip()
        return span.strip()

    @staticmethod
    def _same(extracted: str, reference: str) -> bool:
        ref, got = parse_number(reference), parse_number(extracted)
        if ref is not None and got is not None:
            if got.value == ref.value:
                return True
            # the dataset's own rule: a decimal matches to three places (0.083 for 1/12);
            # two exact fractions must be equal (18/278 is not 18/277)
            decimal = ref.quantum is not None or got.quantum is not None
            return decimal and _rounded(got.value) == _rounded(ref.value)
        return normalize_text(extracted) == normalize_text(reference)
