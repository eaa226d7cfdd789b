"""Candidates that lost their step's selection, kept for audit beside the step they lost to.

With `[training] candidates = k` a step gates k proposals and validates only the best; the
others are not steps (the step has one decision, its chosen candidate's), but each is kept:
a record commit on top of its candidate commits, under
`refs/fnforge/rejected/<run>/step-<n>-c<i>` (out of `git branch`, like every rejected ref),
with a JSON note carrying its verdicts (the pre-check's figures among them) and a trailer
`Fnforge-Selection: rejected: <gate>: <why>` (gate `selection` when it passed every gate it
ran but another candidate was chosen). The record carries no `Fnforge-Decision` trailer, so
the history's steps stay one per number: `git log --glob=refs/fnforge/rejected` shows them,
and `git show refs/fnforge/rejected/<run>/step-<n>-c<i>` tells one's story.
"""

from __future__ import annotations

import json
from typing import Any

from fnforge.function_repo.candidate import Candidate
from fnforge.function_repo.history import REJECTED_PREFIX, message, one_line
from fnforge.function_repo.steps import step_note
from fnforge.function_repo.store import StepStore
from fnforge.protocol import Verdict

SELECTION = "selection"


def candidate_label(branch: str) -> str | None:
    """`c<i>` (`c1+2` for a combination) of a step's candidate branch `.../step-<n>-c<i>`; None when
    the branch is a step's only candidate (no suffix)."""
    return "c" + branch.rsplit("-c", 1)[1] if "-c" in branch else None


def unchosen_ref(run: str, step: int, index: int | str) -> str:
    """Where the i-th candidate of a step (or a combination such as `1+3`) is kept when another was chosen."""
    return f"{REJECTED_PREFIX}/{run}/step-{step}-c{index}"


def keep_unchosen(
    repo: StepStore, candidate: Candidate, verdicts: list[Verdict], note: dict[str, Any]
) -> str:
    """Record the candidate under its `step-<n>-c<i>` rejected ref and delete its branch; the record's sha.

    The gate is the first failing verdict's, else `selection`; `note["selection"]` (set by the
    caller) says why another candidate won.
    """
    index = (candidate_label(candidate.branch) or "c")[1:]
    failed = next((v for v in verdicts if not v.passed), None)
    gate = failed.gate if failed is not None else SELECTION
    reason = failed.reason if failed is not None else str(note.get("selection", {}).get("why", "not chosen"))
    fields = {
        "step": candidate.step,
        "run": candidate.run,
        "kind": "candidate",
        "base": candidate.base_sha,
        "candidate": candidate.commit_sha,
        "actions": [a.brief() for a in candidate.actions],
        "verdicts": [v.model_dump() for v in verdicts],
        "decision": "rejected",
        "gate": gate,
        "reason": reason,
        "notices": candidate.notices,
    }
    text = step_note(fields, note)
    trailers = [
        ("Fnforge-Run", candidate.run),
        ("Fnforge-Step", str(candidate.step)),
        ("Fnforge-Candidate", f"c{index}"),
        *[("Fnforge-Action", a.summary) for a in candidate.actions],
        ("Fnforge-Selection", f"rejected: {gate}: {one_line(reason, 200)}"),
    ]
    title = f"Candidate c{index} of step {candidate.step} not chosen: {gate}: {one_line(reason, 60)}"
    with repo.lock():
        commit = repo.git.commit_tree(candidate.tree_sha, [candidate.commit_sha], message(title, trailers))
        repo.git.add_note(candidate.commit_sha, text)
        repo.git.add_note(commit, text)
        ref = unchosen_ref(candidate.run, candidate.step, index)
        old = repo.git.run("rev-parse", "--verify", "--quiet", ref, check=False) or None
        repo.git.move_ref(ref, commit, old)  # a redone step (after a crash) replaces its earlier losers
        repo.git.delete_ref(f"refs/heads/{candidate.branch}")
    return commit


def unchosen(repo: StepStore, run: str, step: int) -> list[dict[str, Any]]:
    """The notes of a step's candidates that were not chosen, by candidate index."""
    out = repo.git.run("for-each-ref", "--format=%(refname)", f"{REJECTED_PREFIX}/{run}/step-{step}-c*")
    notes = []
    for ref in sorted(out.split()):
        text = repo.git.run("notes", "--ref", "fnforge", "show", ref, check=False)
        try:
            notes.append(json.loads(text))
        except json.JSONDecodeError:
            continue
    return notes
