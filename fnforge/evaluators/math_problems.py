"""MATH-style problems: the answer is a LaTeX expression, judged by equivalence.

Loads the MATH family as it comes (`problem` + `solution` with a final `\\boxed{}`, an
optional `answer`, categories `type`/`level`/`subject`) and plain question/answer JSONL.
Judging reads the agent's last `\\boxed{}` (or `The answer is ...`) and asks
`LatexEquivalence`, whose symbolic step runs under a hard time limit.
"""

from __future__ import annotations

import re
from pathlib import Path

from fnforge.evaluators.extract import boxed_contents, final_sentence_number, last_math_span, marked_answer
from fnforge.evaluators.latex_equivalence import LatexEquivalence
from fnforge.evaluators.loading import read_records, require
from fnforge.evaluators.symbolic import shared_checker
from fnforge.evaluators.task import Evaluator, EvaluatorError, ItemResult, Task

INSTRUCTION = "Reason step by step, and put your final answer within \\boxed{}."
SHORT_ANSWER_CHARS = 600
_PROSE = re.compile(r"(?<![\\{_^a-zA-Z])[a-zA-Z]{3,}\s+[a-zA-Z]{3,}\s+[a-zA-Z]{3,}\b")


def looks_like_math(line: str) -> bool:
    """A single line that is an expression rather than a sentence (no three words in a row)."""
    without_text = re.sub(r"\\(?:text|mathrm|mbox|operatorname)\s*\{[^{}]*\}", " ", line)
    return not _PROSE.search(without_text)


class MathEvaluator(Evaluator):
    """Judges MATH-style answers by LaTeX equivalence (strings, numbers, collections, sympy)."""

    name = "math"
    categories = ("type", "level", "subject")
    parallel_judging = 2

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._equivalence: LatexEquivalence | None = None

    @property
    def equivalence(self) -> LatexEquivalence:
        """The equivalence checker (its worker processes start on the first symbolic check)."""
        if self._equivalence is None:
            self._equivalence = LatexEquivalence(shared_checker(self.timeout_s))
        return self._equivalence

    def load(self, path: Path) -> list[Task]:
        tasks = []
        for record in read_records(path):
            (question,) = require(record, "problem|question")
            answer = record.fields.get("answer")
            if answer is not None:
                boxes = boxed_contents(str(answer))
                reference = boxes[-1] if boxes else str(answer)
            else:
                (solution,) = require(record, "solution")
                boxes = boxed_contents(str(solution))
                if not boxes:
                    raise EvaluatorError(
                        f"{record.where}: the solution has no \\boxed{{}} answer; add an `answer` field"
                    )
                reference = boxes[-1]
            metadata = {k: record.fields[k] for k in self.categories if record.fields.get(k) is not None}
            tasks.append(
                Task(
                    id=record.id,
                    inputs={"question": str(question)},
                    reference=reference.strip(),
                    metadata=metadata,
                )
            )
        return tasks

    def render(self, task: Task) -> str:
        return f"{task.inputs['question']}\n\n{INSTRUCTION}"

    def extract(self, output: str) -> str | None:
        if not output or not output.strip():
            return None
        span = marked_answer(output)
        if span:
            return span
        span = last_math_span(output)
        if span:
            return span
        text = output.strip()
        if "\n" not in text and len(text) <= SHORT_ANSWER_CHARS and looks_like_math(text):
            return text.rstrip(".")
        return final_sentence_number(output)

    def judge(self, task: Task, output: str) -> ItemResult:
        extracted = self.extract(output)
        verdict = self.equivalence.check(extracted, str(task.reference))
        return ItemResult(
            id=task.id,
            correct=verdict.equal,
            extracted=extracted,
            reference=str(task.reference),
            score=float(verdict.equal),
            note=verdict.note,
        )
