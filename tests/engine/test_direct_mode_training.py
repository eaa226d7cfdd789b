"""Direct mode with scripted edits (the demo's path): no model at all, real TabMWP problems.

The examples' reviewed edits (examples/demo_edits.json) replace the optimizer, and the
evaluator calls the set's `solve` on each problem in the Docker sandbox. The test asserts
the engine's behaviour, not the examples' exact scores: the first steps are replayed in
order, every merge really raised the validation score, and nothing ever asked a model.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from fnforge.engine.trainer import train
from fnforge.function_repo import FunctionRepo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_scripted_edits_replay_in_direct_mode_and_merge_only_improvements(
    tmp_path: Path, docker_pool
) -> None:
    config = (EXAMPLES / "demo-fnforge.toml").read_text()
    config = re.sub(
        r"(?m)^base_url = .*$", 'base_url = "http://127.0.0.1:9/v1"  # nothing listens here', config
    )
    config = re.sub(r"(?m)^backend = .*$", 'backend = "docker"', config)
    config = re.sub(r"(?m)^max_steps = .*$", "max_steps = 3", config)
    repo = FunctionRepo.init(tmp_path / "fns", config_text=config)
    shutil.copy(EXAMPLES / "tabmwp" / "train.json", repo.root / "data" / "train.json")
    shutil.copy(EXAMPLES / "tabmwp" / "val.json", repo.root / "data" / "val.json")
    shutil.copy(EXAMPLES / "tabmwp" / "test.json", repo.root / "data" / "test.json")
    shutil.copy(EXAMPLES / "demo_edits.json", repo.root / "demo_edits.json")
    repo.git.run("add", "data", "demo_edits.json")
    repo.git.run("commit", "-q", "-m", "demo data and edits")
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
