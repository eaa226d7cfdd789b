"""A step's candidate as `git format-patch` files, for review in any code-review tool.

Each action of a step is one commit on its candidate branch, so the candidate is a short
patch series on top of the head it was made from: `git am` applies it to a clone of that
base, and mail- or patch-based review tools take it as it is. Waiting, accepted and
rejected steps all keep their candidate commits, so any of them can be exported.
"""

from __future__ import annotations

from pathlib import Path

from fnforge.function_repo.errors import RepoError
from fnforge.function_repo.review import waiting
from fnforge.function_repo.store import StepStore


def candidate_range(repo: StepStore, n: int) -> tuple[str, str]:
    """(base, tip) of step n's candidate commits: waiting, merged, rejected, or a rollback."""
    for w in waiting(repo):
        if w.step == n:
            return w.base, w.commit
    rec = repo.step(n)
    if rec.kind == "rollback":
        return f"{rec.commit}^1", rec.commit
    if rec.accepted:
        return f"{rec.commit}^1", f"{rec.commit}^2"
    base, tip = rec.note.get("base"), rec.note.get("candidate")
    if not tip:
        raise RepoError(
            f"step {n} has no candidate to export: it was rejected at {rec.gate} before any edit was committed"
        )
    return base or f"{tip}^", tip


def export_patches(repo: StepStore, n: int, out: Path | str) -> list[Path]:
    """Write step n's candidate as `git format-patch` files in `out`; the paths, in order."""
    base, tip = candidate_range(repo, n)
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise RepoError(f"{out} is a file; pass a directory for the patch files with --out")
    out.mkdir(parents=True, exist_ok=True)
    written = repo.git.run(
        "format-patch", "--no-signature", f"--subject-prefix=PATCH fnforge step {n}",
        "-o", str(out), f"{base}..{tip}",
    )  # fmt: skip
    paths = [Path(line) for line in written.splitlines() if line.strip()]
    if not paths:
        raise RepoError(f"step {n}'s candidate changes nothing; there is no patch to write")
    return paths
