"""One content hash of a function set, shared by the sandbox (loaded sets) and the engine (scores).

There were two, with different algorithms: the same set had one name in a worker and
another in a note. `fnforge.protocol.set_hash` is now the only one.
"""

from __future__ import annotations

import fnforge.engine.evaluation
import fnforge.sandbox.pool
from fnforge.protocol import set_hash

SET = {
    "double": "def double(x: int) -> int:\n    return 2 * x\n",
    "half": "def half(x: int) -> int:\n    return x // 2\n",
}


def test_a_set_hashes_by_its_names_and_sources_only():
    assert set_hash(SET) == set_hash(dict(reversed(list(SET.items()))))  # order is no part of a set
    assert set_hash(SET) != set_hash({**SET, "half": SET["half"] + "\n"})  # a source changed
    assert set_hash(SET) != set_hash({"twice": SET["double"], "half": SET["half"]})  # a name changed
    assert set_hash({"a": "b\0c"}) != set_hash({"a\0b": "c"})  # no two sets share one serialisation


def test_the_hash_keeps_the_value_notes_already_record():
    """Scores in existing notes carry `set`: the engine's algorithm stayed, so they stay valid."""
    assert set_hash(SET) == "1502be1ee7d60eea"  # what engine/evaluation.py recorded for it before
    assert set_hash({}) == "4f53cda18c2baa0c"  # sha256("[]")[:16]


def test_the_sandbox_and_the_engine_key_by_the_same_function():
    assert fnforge.sandbox.pool.set_hash is set_hash
    assert fnforge.engine.evaluation.set_hash is set_hash
