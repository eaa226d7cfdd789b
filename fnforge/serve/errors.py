"""What can stop `fnforge serve` before it serves: one error type with a message that says what to do."""

from __future__ import annotations


class ServeError(RuntimeError):
    """The server cannot start as asked (an empty set, a public bind without a token...)."""
