"""The demo's TabMWP repository in direct mode, for engine tests that train on shipped data.

The demo's own fnforge.toml, data slices and reviewed edits (`examples/`) stand in for the
optimizer: no model is reached (the endpoint points where nothing listens), so a run is the
store, the sandbox, the gates and the TabMWP evaluator, all real.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fnforge.function_repo import FunctionRepo

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def direct_repo(path: Path, extra: str = "", backend: str = "docker", max_steps: int = 3) -> FunctionRepo:
    """A new repository at `path` with the demo's settings (plus `extra` TOML), data and edits."""
    config = (EXAMPLES / "demo-fnforge.toml").read_text()
    config = re.sub(
        r"(?m)^base_url = .*$", 'base_url = "http://127.0.0.1:9/v1"  # nothing listens here', config
    )
    config = re.sub(r"(?m)^backend = .*$", f'backend = "{backend}"', config)
    config = re.sub(r"(?m)^max_steps = .*$", f"max_steps = {max_steps}", config)
    repo = FunctionRepo.init(path, config_text=config + extra)
    for split in ("train", "val", "test"):
        shutil.copy(EXAMPLES / "tabmwp" / f"{split}.json", repo.root / "data" / f"{split}.json")
    shutil.copy(EXAMPLES / "demo_edits.json", repo.root / "demo_edits.json")
    repo.git.run("add", "data", "demo_edits.json")
    repo.git.run("commit", "-q", "-m", "demo data and edits")
    return repo
