"""GSM8K: grade-school word problems whose answer is one number.

The reference is the number after `####` in the dataset's `answer` field (or a bare
`answer`); an output is correct when the final number it states equals the reference
exactly, whatever the decoration (`$1,080.00`, `1080 apples`, `**1080**`).
"""

from __future__ import annotations

from fractions import Fraction

from fnforge.evaluators.extract import final_sentence_number, marked_answer, number_in_span
from fnforge.evaluators.loading import Record, require
from fnforge.evaluators.numbers import canonical, parse_number
from fnforge.evaluators.task import Evaluator, EvaluatorError, ItemResult, Task

FLOAT_NOISE = Fraction(1, 10**9)
INSTRUCTION = (
    "Solve the problem step by step. End your reply with a final line of the form "
    "`#### <number>` giving only the number (no units)."
)


def final_number(output: str) -> str | None:
    """The final number an output states, canonically spelled (`1,080.00` -> `1080`), or None."""
    span = marked_answer(output)
    written = number_in_span(span) if span else None
    if written is None:
        written = final_sentence_number(output)
    if written is None:
        return None
    number = parse_number(written)
    return canonical(number.value) if number else None


def _same(got: Fraction, reference: Fraction) -> bool:
    """Equal, allowing only float noise (`10.000000000000002` from a direct-mode function)."""
    return got == reference or abs(got - reference) <= FLOAT_NOISE * max(1, abs(reference))


class GSM8KEvaluator(Evaluator):
    """Judges GSM8K: numeric equality of the final number with the reference."""

    name = "gsm8k"

    def task(self, record: Record) -> Task:
        question, answer = require(record, "question", "answer")
        written = str(answer).rsplit("####", 1)[-1].strip()
        number = parse_number(written)
        if number is None:
            raise EvaluatorError(
                f"{record.where}: reference {written!r} is not a number; GSM8K answers end with `#### <number>`"
            )
        return Task(id=record.id, inputs={"question": str(question)}, reference=canonical(number.value))

    def render(self, task: Task) -> str:
        return f"{task.inputs['question']}\n\n{INSTRUCTION}"

    def extract(self, output: str) -> str | None:
        return final_number(output) if output else None

    def judge(self, task: Task, output: str) -> ItemResult:
        extracted = self.extract(output)
        reference = parse_number(str(task.reference))
        got = parse_number(extracted) if extracted is not None else None
        correct = bool(got and reference and _same(got.value, reference.value))
        return ItemResult(
            id=task.id,
            correct=correct,
            extracted=extracted,
            reference=str(task.reference),
            score=float(correct),
        )
