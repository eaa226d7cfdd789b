"""Replaying a finished run from the reply cache, to show that its decisions are reproducible.

`fnforge train --offline` on a repository whose run is finished must not touch that
repository: it clones it into a scratch directory at the commit the run started from (with
the notes and rejected refs of the steps before it, so the optimizer sees the same
history), copies the reply cache, trains the same run there with `offline=True` (a cache
miss is an error, zero HTTP requests), and compares every step's decision, gate, reason,
actions and function tree with the recorded ones.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnforge.engine.llm import cache_dir
from fnforge.engine.run_records import INTERRUPTED, run_records
from fnforge.engine.trainer import Progress, TrainingError, TrainingResult


@dataclass
class ReplayResult:
    """How an offline replay of a run compares with the recorded run."""

    run: str
    steps: int
    identical: bool
    differences: list[str] = field(default_factory=list)
    training: TrainingResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for `--json`."""
        return {
            "run": self.run,
            "steps": self.steps,
            "identical": self.identical,
            "differences": self.differences,
        }


def decisions(repo: Any, run: str) -> list[tuple]:
    """What a replay must reproduce, step by step: decision, gate, reason, actions, function tree."""
    out = []
    for r in run_records(repo, run):
        if r.gate == INTERRUPTED:
            continue
        tree = repo.git.run("rev-parse", f"{r.commit}:functions", check=False) or "(no functions)"
        out.append((r.decision, r.gate, r.reason, tuple(r.actions), tree))
    return out


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TrainingError(f"replay: git {' '.join(args[:2])} failed: {done.stderr.strip()[:200]}")
    return done.stdout.strip()


def replay(repo: Any, run: str, *, pool: Any = None, progress: Progress | None = None) -> ReplayResult:
    """Retrain `run` offline in a scratch clone and compare it with the recorded run."""
    from fnforge.engine.trainer import train
    from fnforge.function_repo import FunctionRepo

    records = run_records(repo, run)
    if not records:
        raise TrainingError(f"nothing to replay: run {run!r} has no steps in {repo.root}")
    first = records[0].step
    base = (records[0].note or {}).get("base")
    if not base:
        raise TrainingError(
            f"cannot replay run {run!r}: step {first} does not record the commit it started from"
        )
    source = Path(repo.root)
    with tempfile.TemporaryDirectory(prefix="fnforge-replay-") as tmp:
        clone = Path(tmp) / "replay"
        _git(Path(tmp), "clone", "-q", "--no-checkout", str(source), str(clone))
        _git(clone, "checkout", "-q", "-B", repo.branch, base)
        earlier = [
            f"+{r.commit}:refs/fnforge/rejected/{r.run}/step-{r.step}"
            for r in repo.steps(include_rejected=True)
            if r.step < first and not r.accepted
        ]
        _git(clone, "fetch", "-q", "origin", "+refs/notes/fnforge:refs/notes/fnforge", *earlier)
        if cache_dir(source).exists():
            shutil.copytree(cache_dir(source), cache_dir(clone))
        for rel in (repo.settings.data.train, repo.settings.data.val, repo.settings.llm.scripted_edits):
            if (
                rel
                and not Path(rel).is_absolute()
                and (source / rel).is_file()
                and not (clone / rel).exists()
            ):
                (clone / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / rel, clone / rel)
        replica = FunctionRepo.open(clone)
        training = train(replica, run=run, offline=True, pool=pool, progress=progress)
        want, got = decisions(repo, run), decisions(replica, run)
    differences = []
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        if w != g:
            differences.append(
                f"step {i + 1} of the run: recorded {w[:3] if w else 'nothing'}, "
                f"replayed {g[:3] if g else 'nothing'}"
            )
    return ReplayResult(run, len(want), not differences, differences, training)


def run_to_replay(repo: Any, *, run: str | None, resume: bool, offline: bool) -> str | None:
    """The finished run that `train --offline` should replay, or None to train (offline) as usual.

    `--offline` alone replays the named (or latest) run when this repository holds it;
    `--offline --resume` continues a run from the cache instead, and a repository without
    the run (e.g. a fresh one given a copied cache) trains it offline.
    """
    from fnforge.engine.run_records import latest_run

    if not offline or resume:
        return None
    target = run or latest_run(repo)
    if target and run_records(repo, target):
        return target
    return None
