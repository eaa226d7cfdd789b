"""What makes two tasks the same task: their id, or what they ask after normalisation.

The overlap check between train, val and test compares these, and a split of a million tasks
cannot keep a million strings to compare: a source's index keeps a 64-bit hash of each
(`key_hash`), in compact arrays, and only a hash both splits share is confirmed by reading the
two tasks again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def normalised_question(task: Any) -> str:
    """What a task asks, case-folded with runs of whitespace made one space.

    That is all of what the agent is shown (`inputs`: the question, and a table, choices or
    unit where the dataset has them): TabMWP asks "Is the function linear?" of many tables.
    """
    inputs = getattr(task, "inputs", {}) or {}
    if len(inputs) == 1 and isinstance(inputs.get("question"), str):  # the common case, kept quick
        return " ".join(inputs["question"].split()).casefold()
    parts = [inputs[k] for k in sorted(inputs)]
    text = " ".join(v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for v in parts)
    return " ".join(text.split()).casefold()  # str.split() splits on what `\s` matches


def key_hash(text: str) -> int:
    """A 64-bit hash of an id or a normalised question (blake2b, stable across processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
