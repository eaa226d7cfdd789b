"""The one error type of the evaluators: bad input a user can fix, said in one line."""

from __future__ import annotations


class EvaluatorError(ValueError):
    """Bad input a user can fix (an unknown task, a malformed data or predictions file).

    The message is one line: what happened, what was expected, what to do.
    """
