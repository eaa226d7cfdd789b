"""Commands for the train part (registered on the main app when imported)."""

from __future__ import annotations

from fnforge.cli import app  # noqa: F401
