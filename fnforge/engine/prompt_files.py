"""The prompt templates shipped beside the engine's code (`fnforge/engine/prompts/*.txt`)."""

from __future__ import annotations

from importlib import resources


def prompt_file(name: str) -> str:
    """A prompt template shipped beside the code (prompts/<name>)."""
    return resources.files("fnforge.engine").joinpath("prompts", name).read_text(encoding="utf-8")
