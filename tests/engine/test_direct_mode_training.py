"""Direct mode with scripted edits (the demo's path): no model at all, real TabMWP problems.

The examples' reviewed edits (examples/demo_edits.json) replace the optimizer, and the
evaluator calls the set's `solve` on each problem in the Docker sandbox. The test asserts
the engine's behaviour, not the examples' exact scores: the first steps are replayed in
order, every merge really raised the validation score, and nothing ever asked a model.
"""

from __future__ import annotations

import json
from pathlib import Path

from demo_world import EXAMPLES, direct_repo

from fnforge.engine.trainer import train


def test_scripted_edits_replay_in_direct_mode_and_merge_only_improvements(
    tmp_path: Path, docker_pool
) -> None:
    repo = direct_repo(tmp_path / "fns")
    script = json.loads((EXAMPLES / "demo_edits.json").read_text())

    result = train(repo, run="demo", pool=docker_pool)

    assert result.stopped == "max_steps reached (3)"
    assert [s.actions for s in result.steps] == [
        [f"{a['action'].split('_')[0]} {a['name']}" for a in step] for step in script[:3]
    ]
    first = result.steps[0]
    assert first.accepted and first.score_before == 0.0 and first.score_after > 0.0
    for s in result.steps:
        if s.accepted:
            assert s.score_after > s.score_before
    assert result.usage == {}  # no model client was even made
    line = json.loads((repo.root / ".git/fnforge/runs/demo/step-2.jsonl").read_text().splitlines()[0])
    assert line["mode"] == "direct" and line["events"][0]["name"] == "solve"
    note = json.loads(repo.git.run("notes", "--ref", "fnforge", "show", repo.head()))
    assert note["usage"]["train"]["tokens"] == 0 and note["usage"]["optimizer"]["tokens"] == 0
