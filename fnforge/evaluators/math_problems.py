"""MATH-style problems: the answer is a LaTeX expression, judged by equivalence.

Loads the MATH family as it comes (`problem` + `solution` with a final `\\boxed{}`, an
optional `answer`, categories `type`/`level`/`subject`) and plain question/answer JSONL.
Judging is `MathJudge`'s: Math-Verify's verdict, from a killable worker under the per-item
time limit, short-cut only where Math-Verify's is certain (one boxed answer, see math_judge). A reference that Math-Verify
cannot read (a long prose solution with no answer in it) is an error naming its line at
load time, never a hang.
"""

from __future__ import annotations

from pathlib import Path

from fnforge.evaluators.extract import boxed_contents, final_sentence_number, last_math_span, marked_answer
from fnforge.evaluators.loading import Record, read_records, require
from fnforge.evaluators.math_judge import MAX_SHORTCUT_CHARS, MathJudge, looks_like_math
from fnforge.evaluators.symbolic import shared_checker
from fnforge.evaluators.task import Evaluator, EvaluatorError, ItemResult, Task

INSTRUCTION = "Reason step by step, and put your final answer within \\boxed{}."
SHORT_ANSWER_CHARS = 600


class MathEvaluator(Evaluator):
    """Judges MATH-style answers as Math-Verify does (a sole boxed answer may be short-cut)."""

    name = "math"
    categories = ("type", "level", "subject")
    parallel_judging = 2

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._judge: MathJudge | None = None

    @property
    def math_judge(self) -> MathJudge:
        """The judge (its Math-Verify worker processes start on the first request)."""
        if self._judge is None:
            self._judge = MathJudge(shared_checker(self.timeout_s))
        return self._judge

    def load(self, path: Path) -> list[Task]:
        tasks = []
        for record in read_records(path):
            (question,) = require(record, "problem|question")
            reference = self._reference(record)
            metadata = {k: record.fields[k] for k in self.categories if record.fields.get(k) is not None}
            tasks.append(
                Task(
                    id=record.id,
                    inputs={"question": str(question)},
                    reference=reference,
                    metadata=metadata,
                )
            )
        return tasks

    def _reference(self, record: Record) -> str:
        """The reference answer: `answer` as written (its content if it is one `\\boxed{}`), else
        the last `\\boxed{}` of `solution`; a long prose reference must hold an answer Math-Verify reads."""
        answer = record.fields.get("answer")
        if answer is not None:
            boxes = boxed_contents(str(answer))
            reference = (boxes[0] if len(boxes) == 1 else str(answer)).strip()
        else:
            (solution,) = require(record, "solution")
            boxes = boxed_contents(str(solution))
            if not boxes:
                raise EvaluatorError(
                    f"{record.where}: the solution has no \\boxed{{}} answer; add an `answer` field"
                )
            reference = boxes[-1].strip()
        if not reference:
            raise EvaluatorError(f"{record.where}: the reference answer is empty")
        if len(reference) > MAX_SHORTCUT_CHARS and not looks_like_math(reference):  # a prose solution
            why = self.math_judge.readable(reference)
            if why is not None:
                raise EvaluatorError(
                    f"{record.where}: Math-Verify cannot read the reference answer ({why}); "
                    "give the final answer alone in an `answer` field"
                )
        return reference

    def render(self, task: Task) -> str:
        return f"{task.inputs['question']}\n\n{INSTRUCTION}"

    def extract(self, output: str) -> str | None:
        return self._read(output)[0]

    def _read(self, output: str) -> tuple[str | None, bool]:
        """(the final answer span, whether the output marks it: a box, `The answer is`, a math
        span, or the whole output being one expression). An unmarked guess (the number of the
        last sentence) is only a hint: Math-Verify reads such outputs its own way."""
        if not output or not output.strip():
            return None, False
        span = marked_answer(output) or last_math_span(output)
        if span:
            return span, True
        if len(output) <= SHORT_ANSWER_CHARS * 2:
            text = output.strip()
            if "\n" not in text and len(text) <= SHORT_ANSWER_CHARS and looks_like_math(text):
                return text.rstrip("."), True
        return final_sentence_number(output), False

    def judge(self, task: Task, output: str) -> ItemResult:
        extracted, marked = self._read(output)
        verdict = self.math_judge.check(output, extracted, str(task.reference), marked=marked)
        return ItemResult(
            id=task.id,
            correct=verdict.equal,
            extracted=extracted,
            reference=str(task.reference),
            score=float(verdict.equal),
            note=verdict.note,
        )
