"""The errors a user can cause while working with a function repository.

Each carries one line: what happened, what was expected and what to do. Failures a
*candidate* causes are never raised: they become failing verdicts.
"""

from __future__ import annotations


class RepoError(Exception):
    """The repository cannot do what was asked (not a fnforge repo, unknown step, dirty tree)."""


class RepoLocked(RepoError):
    """Another fnforge process is writing the same repository right now."""


class ActionError(ValueError):
    """An action (add / revise / remove a function) that is not well-formed."""
