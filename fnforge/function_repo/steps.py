"""The writing porcelain: propose a candidate, judge it, record a rejection, roll back.

Each is built from plumbing that never touches the user's index or work tree until a
step is decided: blobs and trees are written through a private index file, commits with
`commit-tree`, and refs move with compare-and-swap `update-ref`. So a process killed at
any moment leaves the set's branch at its last accepted state; what it leaves behind (a
candidate branch with no decision) is found and removed by `FunctionRepo.recover`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fnforge.function_repo.actions import parse_actions
from fnforge.function_repo.candidate import Candidate, StepResult, run_gates
from fnforge.function_repo.errors import RepoError
from fnforge.function_repo.history import REJECTED_PREFIX, format_score, message, one_line
from fnforge.function_repo.plumbing import ZERO
from fnforge.function_repo.schema import arguments_disagreement
from fnforge.function_repo.store import StepStore
from fnforge.protocol import Gate, Verdict

PAUSE_ENV = "FNFORGE_TEST_PAUSE_AFTER_COMMIT"  # tests: sleep after commit k so a child can be killed
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CORE_NOTE_KEYS = {
    "step", "run", "kind", "base", "candidate", "actions", "verdicts", "decision", "gate",
    "reason", "score_before", "score_after", "notices", "time", "rolls_back",
}  # fmt: skip


def _check_run(run: str) -> None:
    if not _RUN_NAME.match(run) or ".." in run or run.endswith(".lock"):
        raise RepoError(
            f"run name {run!r} is not usable in a branch name; use letters, digits, '.', '_', '-'"
        )


def step_note(fields: dict[str, Any], extra: dict[str, Any] | None) -> str:
    """A step's JSON note: its own fields, the time, and the caller's extra keys (never overriding)."""
    note = dict(fields)
    note["time"] = datetime.now(UTC).isoformat(timespec="seconds")
    for k, v in (extra or {}).items():
        if k not in _CORE_NOTE_KEYS:
            note[k] = v
    return json.dumps(note, default=str, sort_keys=True)


def _pause_after(k: int) -> None:
    if os.environ.get(PAUSE_ENV) == str(k):
        print(f"fnforge: paused after commit {k} ({PAUSE_ENV})", file=sys.stderr, flush=True)
        time.sleep(3600)


def propose(
    repo: StepStore, actions: Sequence[Any], run: str = "manual", *, step: int | None = None, suffix: str = ""
) -> Candidate:
    """Commit each action on a new branch `fnforge/<run>/step-<n>` made from the set's head.

    One commit per action, with trailers Fnforge-Run, Fnforge-Step and Fnforge-Action;
    the set's branch does not move. Actions may be `Action`s or raw dicts (validated here).
    Several candidates of one step (`[training] candidates`) give the step number and a
    suffix each: `fnforge/<run>/step-<n>-c<i>`.
    """
    _check_run(run)
    if not actions:
        raise RepoError("no actions to propose; a step needs at least one action")
    acts = parse_actions(list(actions))
    with repo.lock():
        base = repo.head()
        base_functions = repo.functions(base)
        functions, tests = dict(base_functions), repo.tests(base)
        n = repo.next_step() if step is None else step
        ref = f"refs/heads/fnforge/{run}/step-{n}{suffix}"
        index = repo.git_dir / "fnforge" / f"index-step-{n}{suffix}"
        index.parent.mkdir(exist_ok=True)
        repo.git.run("read-tree", base, index_file=index)
        changed: list[str] = []
        removed: list[str] = []
        notices: list[str] = []
        parent = base
        tree = repo.git.run("rev-parse", f"{base}^{{tree}}")
        for k, action in enumerate(acts, 1):
            fpath, tpath = f"functions/{action.name}.py", f"tests/test_{action.name}.py"
            if action.action == "remove_function":
                lines = [f"0 {ZERO}\t{fpath}", f"0 {ZERO}\t{tpath}"]
                if functions.pop(action.name, None) is not None and action.name in base_functions:
                    removed.append(action.name)
                tests.pop(action.name, None)
                changed = [c for c in changed if c != action.name]
            else:
                lines = [f"100644 {repo.git.write_blob(action.code)}\t{fpath}"]
                if action.tests is not None:
                    lines.append(f"100644 {repo.git.write_blob(action.tests)}\t{tpath}")
                    tests[action.name] = action.tests
                functions[action.name] = action.code
                if action.name not in changed:
                    changed.append(action.name)
                removed = [r for r in removed if r != action.name]
                if why := arguments_disagreement(action.arguments, action.code, action.name):
                    notices.append(f"{action.summary}: arguments disagree with the code's signature "
                                   f"({why}); the code wins")  # fmt: skip
            repo.git.run("update-index", "--index-info", input="\n".join(lines) + "\n", index_file=index)
            tree = repo.git.run("write-tree", index_file=index)
            title = f"{action.summary}: {action.description}" if action.description else action.summary
            trailers = [("Fnforge-Run", run), ("Fnforge-Step", str(n)), ("Fnforge-Action", action.summary)]
            commit = repo.git.commit_tree(tree, [parent], message(title, trailers))
            repo.git.move_ref(ref, commit, None if k == 1 else parent)
            parent = commit
            _pause_after(k)
        index.unlink(missing_ok=True)
        return Candidate(
            step=n, run=run, functions=functions, tests=tests, changed=changed, removed=removed,
            base_functions=base_functions, actions=acts, tree_sha=tree, commit_sha=parent,
            branch=ref.removeprefix("refs/heads/"), base_sha=base, notices=notices,
        )  # fmt: skip


def verdict_outcome(verdicts: list[Verdict]) -> tuple[bool, str | None, str, float | None, float | None]:
    """(accepted, failing gate, reason, score before, score after) from the verdicts."""
    before = after = None
    for v in verdicts:
        if v.score_before is not None or v.score_after is not None:
            before, after = v.score_before, v.score_after
    failed = next((v for v in verdicts if not v.passed), None)
    if failed is not None:
        return False, failed.gate, failed.reason or "failed", before, after
    if not verdicts:
        return True, None, "no gates ran", before, after
    names = [v.gate for v in verdicts]
    if "validation" in names:
        val = verdicts[names.index("validation")]
        reason = val.reason or f"validation {format_score(before)} -> {format_score(after)}"
    else:
        reason = f"passed {', '.join(names)}; validation did not run"
    return True, None, reason, before, after


def _advance_branch(repo: StepStore, old: str, new: str) -> None:
    """Move the set's branch from old to new (compare-and-swap), then the work tree if checked out."""
    checked_out = repo.checked_out()
    repo.git.move_ref(f"refs/heads/{repo.branch}", new, old)
    if checked_out:
        repo.git.run("read-tree", "-m", "-u", old, new)


def judge(
    repo: StepStore, candidate: Candidate, gates: Sequence[Gate], note_extra: dict[str, Any] | None = None,
    *, extra_trailers: Sequence[tuple[str, str]] = (), body: str = "",
) -> StepResult:  # fmt: skip
    """Run the gates in order; merge the candidate (`--no-ff`) or keep it as a rejected ref.

    Accepted: a merge commit on the set's branch with trailers Fnforge-Run/Step/Action,
    Fnforge-Score and Fnforge-Decision. Rejected: a record commit on top of the candidate,
    kept under refs/fnforge/rejected/<run>/step-<n>. Either way the candidate branch goes
    away and a JSON note (verdicts, scores, note_extra) is attached to the candidate head
    and to the decision commit. `extra_trailers` (e.g. Fnforge-Reviewed-By) go before the
    decision; `body` is the commit message's body (a reviewer's words).
    """
    with repo.lock():
        cand_ref = f"refs/heads/{candidate.branch}"
        current = repo.git.run("rev-parse", "--verify", "--quiet", cand_ref, check=False)
        if current != candidate.commit_sha:
            raise RepoError(f"candidate {candidate.branch} is gone or moved; propose the step again")
        verdicts = run_gates(gates, candidate)
        accepted, gate, reason, before, after = verdict_outcome(verdicts)
        summaries = [a.summary for a in candidate.actions]
        fields = {
            "step": candidate.step, "run": candidate.run, "kind": "step", "base": candidate.base_sha,
            "candidate": candidate.commit_sha, "actions": [a.brief() for a in candidate.actions],
            "verdicts": [v.model_dump() for v in verdicts], "decision": "accepted" if accepted else "rejected",
            "gate": gate, "reason": reason, "score_before": before, "score_after": after,
            "notices": candidate.notices,
        }  # fmt: skip
        note = step_note(fields, note_extra)
        trailers = [("Fnforge-Run", candidate.run), ("Fnforge-Step", str(candidate.step))]
        trailers += [("Fnforge-Action", s) for s in summaries]
        trailers.append(("Fnforge-Score", f"{format_score(before)} -> {format_score(after)}"))
        trailers += list(extra_trailers)
        if accepted:
            if repo.head() != candidate.base_sha:
                raise RepoError(f"the branch {repo.branch} moved since step {candidate.step} was proposed")
            repo.ensure_clean()
            trailers.append(("Fnforge-Decision", f"accepted: {reason}"))
            title = f"Step {candidate.step}: {', '.join(summaries)}"
            commit = repo.git.commit_tree(
                candidate.tree_sha, [candidate.base_sha, candidate.commit_sha], message(title, trailers, body)
            )
            repo.git.add_note(candidate.commit_sha, note)
            repo.git.add_note(commit, note)
            _advance_branch(repo, candidate.base_sha, commit)
        else:
            trailers.append(("Fnforge-Decision", f"rejected: {gate}: {reason}"))
            title = f"Reject step {candidate.step}: {gate}: {one_line(reason, 80)}"
            commit = repo.git.commit_tree(
                candidate.tree_sha, [candidate.commit_sha], message(title, trailers, body)
            )
            repo.git.add_note(candidate.commit_sha, note)
            repo.git.add_note(commit, note)
            repo.git.move_ref(f"{REJECTED_PREFIX}/{candidate.run}/step-{candidate.step}", commit, None)
        repo.git.delete_ref(cand_ref)
        return StepResult(
            step=candidate.step, run=candidate.run, accepted=accepted, gate=gate, reason=reason,
            verdicts=verdicts, score_before=before, score_after=after, commit=commit,
            actions=summaries, notices=list(candidate.notices),
        )  # fmt: skip


def record_rejection(
    repo: StepStore, run: str, gate: str, reason: str, note_extra: dict[str, Any] | None = None
) -> StepResult:
    """A numbered step rejected before any candidate existed (garbage from the optimizer,
    an interrupted step): an empty record commit on the head, kept under the rejected ref."""
    _check_run(run)
    with repo.lock():
        n = repo.next_step()
        head = repo.head()
        tree = repo.git.run("rev-parse", f"{head}^{{tree}}")
        verdict = Verdict.fail(gate, reason)
        fields = {
            "step": n, "run": run, "kind": "step", "base": head, "candidate": None, "actions": [],
            "verdicts": [verdict.model_dump()], "decision": "rejected", "gate": gate, "reason": reason,
            "score_before": None, "score_after": None, "notices": [],
        }  # fmt: skip
        trailers = [
            ("Fnforge-Run", run), ("Fnforge-Step", str(n)), ("Fnforge-Score", "n/a -> n/a"),
            ("Fnforge-Decision", f"rejected: {gate}: {reason}"),
        ]  # fmt: skip
        commit = repo.git.commit_tree(tree, [head], message(f"Reject step {n}: {gate}: {reason}", trailers))
        repo.git.add_note(commit, step_note(fields, note_extra))
        repo.git.move_ref(f"{REJECTED_PREFIX}/{run}/step-{n}", commit, None)
        return StepResult(
            step=n, run=run, accepted=False, gate=gate, reason=reason, verdicts=[verdict],
            score_before=None, score_after=None, commit=commit, actions=[],
        )  # fmt: skip


def run_step(
    repo: StepStore, actions: Sequence[Any], gates: Sequence[Gate], run: str = "manual",
    note_extra: dict[str, Any] | None = None,
) -> StepResult:  # fmt: skip
    """One whole step under the lock: recover, check the tree is clean, propose, judge."""
    with repo.lock():
        recovered = repo.recover()
        repo.ensure_clean()
        candidate = propose(repo, actions, run)
        return replace(judge(repo, candidate, gates, note_extra), recovered=recovered)


def _merge_text(repo: StepStore, index: Path, path: str, stages: dict[str, str]) -> bool:
    """Resolve one path edited on both sides with a line merge (`git merge-file`), as
    `git revert` would; False when the edits overlap (a real conflict)."""
    if set(stages) != {"1", "2", "3"}:  # added or deleted on one side: not a text merge
        return False
    with tempfile.TemporaryDirectory(prefix="fnforge-merge-") as tmp:
        files = []
        for stage in ("2", "1", "3"):  # ours, base, theirs
            f = Path(tmp) / stage
            f.write_bytes(repo.git.read_blob(stages[stage]))
            files.append(str(f))
        if not repo.git.ok("merge-file", "-q", *files):
            return False
        merged = Path(files[0]).read_text()
    blob = repo.git.write_blob(merged)
    info = f"0 {ZERO}\t{path}\n100644 {blob}\t{path}\n"
    repo.git.run("update-index", "--index-info", input=info, index_file=index)
    return True


def _revert_tree(repo: StepStore, target: str, mainline: str, head: str) -> str:
    """The head's tree with `target`'s change (against `mainline`) undone: `git revert -m 1`."""
    if head == target:
        return repo.git.run("rev-parse", f"{mainline}^{{tree}}")
    index = repo.git_dir / "fnforge" / "index-rollback"
    index.parent.mkdir(exist_ok=True)
    try:
        repo.git.run("read-tree", "-m", "--aggressive", target, head, mainline, index_file=index)
        unmerged = repo.git.run("ls-files", "-u", "-z", index_file=index)
        stages: dict[str, dict[str, str]] = {}
        for entry in filter(None, unmerged.split("\0")):
            info, _, path = entry.partition("\t")
            _mode, sha, stage = info.split()
            stages.setdefault(path, {})[stage] = sha
        paths = [p for p, st in sorted(stages.items()) if not _merge_text(repo, index, p, st)]
        if paths:
            raise RepoError(
                f"rolling back this step conflicts with later steps in {', '.join(paths)}; "
                "roll back the later steps first (newest first)"
            )
        return repo.git.run("write-tree", index_file=index)
    finally:
        index.unlink(missing_ok=True)


def rollback(repo: StepStore, n: int, run: str = "manual") -> StepResult:
    """Undo accepted step n as a new numbered step (a revert of its merge, with trailers)."""
    _check_run(run)
    with repo.lock():
        recovered = repo.recover()
        repo.ensure_clean()
        rec = repo.step(n)
        if not rec.accepted:
            raise RepoError(
                f"step {n} was rejected ({rec.gate}: {one_line(rec.reason, 80)}); "
                "only accepted steps changed the set and can be rolled back"
            )
        head = repo.head()
        parents = repo.git.run("rev-list", "--parents", "-n", "1", rec.commit).split()[1:]
        tree = _revert_tree(repo, rec.commit, parents[0], head)
        if tree == repo.git.run("rev-parse", f"{head}^{{tree}}"):
            raise RepoError(f"rolling back step {n} changes nothing: its changes are already undone")
        status = repo.git.run("diff-tree", "-r", "--name-status", head, tree, "--", "functions")
        verbs = {"A": "add", "D": "remove", "M": "revise"}
        actions = []
        for line in status.splitlines():
            code, _, path = line.partition("\t")
            if path.endswith(".py"):
                actions.append(f"{verbs.get(code[:1], 'revise')} {path.removeprefix('functions/')[:-3]}")
        k = repo.next_step()
        reason = f"rollback of step {n}"
        fields = {
            "step": k, "run": run, "kind": "rollback", "base": head, "candidate": None,
            "actions": [{"summary": a} for a in actions], "verdicts": [], "decision": "accepted",
            "gate": None, "reason": reason, "score_before": None, "score_after": None, "notices": [],
            "rolls_back": n,
        }  # fmt: skip
        trailers = [("Fnforge-Run", run), ("Fnforge-Step", str(k)), ("Fnforge-Rollback", str(n))]
        trailers += [("Fnforge-Action", a) for a in actions]
        trailers += [("Fnforge-Score", "n/a -> n/a"), ("Fnforge-Decision", f"accepted: {reason}")]
        body = f"This reverts commit {rec.commit} (git revert -m 1), undoing step {n}."
        commit = repo.git.commit_tree(tree, [head], message(f"Roll back step {n}", trailers, body))
        repo.git.add_note(commit, step_note(fields, None))
        _advance_branch(repo, head, commit)
        return StepResult(
            step=k, run=run, accepted=True, gate=None, reason=reason, verdicts=[], score_before=None,
            score_after=None, commit=commit, actions=actions, recovered=recovered,
        )  # fmt: skip
