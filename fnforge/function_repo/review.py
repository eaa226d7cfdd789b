"""The human review gate: candidates that wait for a person, and the person's approve or reject.

With `[training] review = "human"` a candidate that passes every gate is not merged: it
stays on its branch `fnforge/<run>/step-<n>` and the JSON note on its head says
`"state": "awaiting review"`, with everything an automatic acceptance would have recorded
(verdicts, scores, the trainer's figures). `approve` then merges it exactly as `judge`
would have, plus a `Fnforge-Reviewed-By` trailer; `reject` records it as rejected at gate
`review` with the reviewer's reason, which later optimizer prompts show like any rejection.

When the set's branch moved since the candidate was made (another step was approved
first), `approve` replays the candidate's commits onto the new head (a three-way merge per
commit, as `git rebase` would) and runs the gates it is *given* again against that head;
when the commits no longer apply cleanly it refuses and the candidate keeps waiting. The
commits as proposed, which the note names (`replayed_from`), stay reachable under
`refs/fnforge/replayed/<run>/step-<n>`, so `git gc` cannot prune them. The
store never composes gates itself (DESIGN.md "who owns what"): the caller passes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fnforge.function_repo import steps as porcelain
from fnforge.function_repo.actions import parse_actions
from fnforge.function_repo.candidate import Candidate, StepResult, run_gates
from fnforge.function_repo.errors import RepoError
from fnforge.function_repo.history import NOTES_REF, one_line
from fnforge.function_repo.store import StepStore
from fnforge.protocol import CandidateView, Gate, Verdict

AWAITING = "awaiting review"
REVIEW_GATE = "review"
REVIEWED_BY = "Fnforge-Reviewed-By"
_PENDING_ACTIONS = "pending_actions"  # the full actions, kept only while the candidate waits
REPLAYED_PREFIX = "refs/fnforge/replayed"  # a replayed candidate's commits as proposed, kept reachable


@dataclass(frozen=True)
class WaitingCandidate:
    """A candidate that passed every gate and waits on its branch for a person's decision.

    It reads like a StepRecord (step, run, decision, gate, reason, scores, actions, note),
    so the trainer can count it in a run's progress and show it in the optimizer's history.
    """

    step: int
    run: str
    branch: str
    commit: str
    base: str
    note: dict[str, Any] = field(default_factory=dict)

    waiting = True
    accepted = False
    decision = AWAITING
    gate = None
    kind = "step"

    @property
    def reason(self) -> str:
        """Why it passed (the validation verdict's words), as an automatic acceptance says."""
        return str(self.note.get("reason", ""))

    @property
    def score_before(self) -> float | None:
        """The head's validation score when the candidate was gated."""
        return self.note.get("score_before")

    @property
    def score_after(self) -> float | None:
        """The candidate's validation score."""
        return self.note.get("score_after")

    @property
    def actions(self) -> list[str]:
        """The actions' labels, e.g. `add calculate`."""
        return [a.get("summary", "") for a in self.note.get("actions", [])]

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        """Every gate's verdict, in order."""
        return list(self.note.get("verdicts", []))

    @property
    def flipped(self) -> dict[str, list[str]]:
        """Validation tasks the candidate fixed and broke (ids), when validation ran."""
        for v in self.verdicts:
            flipped = (v.get("details") or {}).get("flipped")
            if v.get("gate") == "validation" and isinstance(flipped, dict):
                return {k: list(flipped.get(k, [])) for k in ("fixed", "broken")}
        return {"fixed": [], "broken": []}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for `fnforge review --json` (without the diff)."""
        return {
            "step": self.step, "run": self.run, "state": AWAITING, "decision": AWAITING, "branch": self.branch,
            "commit": self.commit, "base": self.base, "actions": self.actions, "reason": self.reason,
            "score_before": self.score_before, "score_after": self.score_after, "flipped": self.flipped,
            "verdicts": self.verdicts, "notices": list(self.note.get("notices", [])),
        }  # fmt: skip


def waiting(repo: StepStore, run: str | None = None) -> list[WaitingCandidate]:
    """The candidates awaiting review (of one run, or all), oldest step first, in one git call."""
    branches = {ref: (r, n) for r, n, ref in repo.candidate_branches() if run is None or r == run}
    if not branches:
        return []
    out = repo.git.run(
        "log", "--no-walk=unsorted", f"--notes={NOTES_REF}", "--format=%x1e%H%x1f%N", *branches
    )
    notes: dict[str, dict[str, Any]] = {}
    for chunk in out.split("\x1e"):
        sha, _, text = chunk.partition("\x1f")
        try:
            note = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            note = {}
        if isinstance(note, dict) and note.get("state") == AWAITING:
            notes[sha.strip()] = note
    heads = repo.git.run("rev-parse", *branches).splitlines()
    found = []
    for (ref, (r, n)), sha in zip(branches.items(), heads, strict=True):
        note = notes.get(sha)
        if note is not None and int(note.get("step", -1)) == n:
            found.append(WaitingCandidate(n, r, ref.removeprefix("refs/heads/"), sha, note["base"], note))
    return sorted(found, key=lambda w: w.step)


def candidate_diff(repo: StepStore, w: WaitingCandidate) -> str:
    """What a waiting candidate changes in the set (functions/ and tests/) against its base."""
    return repo.git.run("diff", w.base, w.commit, "--", "functions", "tests")


def waiting_step(repo: StepStore, n: int) -> WaitingCandidate:
    """The waiting candidate of step n; RepoError saying what step n is instead."""
    for w in waiting(repo):
        if w.step == n:
            return w
    try:
        rec = repo.step(n)
    except RepoError:
        raise RepoError(
            f"step {n} is not waiting for review: no such step; `fnforge review` lists the waiting ones"
        ) from None
    what = "accepted" if rec.accepted else f"rejected at {rec.gate}: {one_line(rec.reason, 80)}"
    raise RepoError(f"step {n} is not waiting for review: it was already {what}")


def reviewer_identity(repo: StepStore) -> str:
    """`Name <email>` of the git user running the review (git's own identity rules)."""
    ident = repo.git.run("var", "GIT_COMMITTER_IDENT", identity=True)
    return ident.rsplit(">", 1)[0] + ">" if ">" in ident else ident


class _Recorded:
    """A gate that returns a verdict already reached: a decision made now on gates run earlier."""

    def __init__(self, verdict: Verdict):
        self.name = verdict.gate
        self.verdict = verdict

    def check(self, candidate: CandidateView) -> Verdict:
        """The recorded verdict, unchanged."""
        return self.verdict


def hold(
    repo: StepStore, candidate: Candidate, gates: Sequence[Gate], note_extra: dict[str, Any] | None = None
) -> StepResult:
    """Gate a candidate for human review: a failure is recorded as `judge` records it; a
    candidate that passes every gate stays on its branch with an "awaiting review" note."""
    with repo.lock():
        verdicts = run_gates(gates, candidate)
        passed, _, reason, before, after = porcelain.verdict_outcome(verdicts)
        if not verdicts or not passed:
            return porcelain.judge(repo, candidate, [_Recorded(v) for v in verdicts], note_extra)
        note = porcelain.step_note({
            "step": candidate.step, "run": candidate.run, "kind": "step", "base": candidate.base_sha,
            "candidate": candidate.commit_sha, "actions": [a.brief() for a in candidate.actions],
            "verdicts": [v.model_dump() for v in verdicts], "decision": AWAITING, "state": AWAITING,
            "gate": None, "reason": reason, "score_before": before, "score_after": after,
            "notices": candidate.notices, "changed": candidate.changed, "removed": candidate.removed,
            _PENDING_ACTIONS: [a.model_dump() for a in candidate.actions],
        }, note_extra)  # fmt: skip
        repo.git.add_note(candidate.commit_sha, note)
        return StepResult(
            step=candidate.step, run=candidate.run, accepted=False, gate=None, reason=reason,
            verdicts=verdicts, score_before=before, score_after=after, commit=candidate.commit_sha,
            actions=[a.summary for a in candidate.actions], notices=list(candidate.notices), waiting=True,
        )  # fmt: skip


def _candidate(repo: StepStore, w: WaitingCandidate, commit: str, base: str) -> Candidate:
    """The waiting candidate as the gates and `judge` see it, at `commit` made from `base`."""
    return Candidate(
        step=w.step, run=w.run, functions=repo.functions(commit), tests=repo.tests(commit),
        changed=list(w.note.get("changed", [])), removed=list(w.note.get("removed", [])),
        base_functions=repo.functions(base), actions=parse_actions(w.note.get(_PENDING_ACTIONS, [])),
        tree_sha=repo.git.run("rev-parse", f"{commit}^{{tree}}"), commit_sha=commit, branch=w.branch,
        base_sha=base, notices=list(w.note.get("notices", [])),
    )  # fmt: skip


def _review_record(repo: StepStore, state: str, reviewer: str, message: str) -> dict[str, Any]:
    """The note's record of a person's decision; `after_step` is the last step taken when it was made.

    A decision is made between steps, not at its candidate's step: the trainer counts patience
    from an approval at `after_step` (an approval is an improvement made then), and an offline
    replay applies the decision at the same point of the run.
    """
    return {
        "state": state, "reviewer": reviewer, "message": message,
        "time": datetime.now(UTC).isoformat(timespec="seconds"), "after_step": repo.next_step() - 1,
    }  # fmt: skip


def _decided_note(w: WaitingCandidate, review: dict[str, Any]) -> dict[str, Any]:
    """The waiting note's extras (the trainer's figures) for `judge`, plus the review record."""
    extra = {k: v for k, v in w.note.items() if k not in (_PENDING_ACTIONS, "state", "changed", "removed")}
    extra["review"] = review
    return extra


def replayed_ref(w: WaitingCandidate) -> str:
    """Where the commits of a candidate replayed onto a moved head stay reachable (`replayed_from`)."""
    return f"{REPLAYED_PREFIX}/{w.run}/step-{w.step}"


def replay_onto(repo: StepStore, w: WaitingCandidate, head: str) -> str:
    """The candidate's commits replayed onto `head` (one per action, messages kept); the new tip.

    Each commit's tree is a three-way merge of head and that commit over the candidate's
    base (`git merge-tree --write-tree`), i.e. what `git rebase` would produce. RepoError
    naming the files when a commit no longer applies cleanly.
    """
    commits = repo.git.run("rev-list", "--reverse", f"{w.base}..{w.commit}").split()
    parent = head
    for c in commits:
        proc_out = repo.git.run(
            "merge-tree", "--write-tree", "--name-only", "--no-messages", head, c, check=False
        )
        lines = proc_out.splitlines()
        if not lines or len(lines[0]) != 40 or len(lines) > 1 and lines[1].strip():
            files = sorted({x.strip() for x in lines[1:] if x.strip()}) or ["(unknown)"]
            raise RepoError(
                f"step {w.step} no longer applies cleanly on {repo.branch} (changed since it was proposed): "
                f"conflicts in {', '.join(files)}; reject it (`fnforge reject {w.step} --reason ...`) "
                "and let training propose it again"
            )
        msg = repo.git.run("log", "-1", "--format=%B", c)
        parent = repo.git.commit_tree(lines[0], [parent], msg + "\n")
    return parent


def approve(
    repo: StepStore, n: int, *, message: str = "", regate: Callable[[], Sequence[Gate]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> StepResult:  # fmt: skip
    """Merge waiting step n as an automatic acceptance would, with `Fnforge-Reviewed-By`.

    When the set's branch moved since the candidate was made, its commits are replayed onto
    the new head and `regate()` (the gates, cheapest first) decides again; without `regate`
    that is refused. A conflict refuses too (RepoError), and the candidate keeps waiting.
    """
    with repo.lock():
        repo.ensure_clean()
        w = waiting_step(repo, n)
        reviewer = reviewer_identity(repo)
        review = _review_record(repo, "approved", reviewer, message or "")
        trailers = [(REVIEWED_BY, reviewer)]
        head = repo.head()
        if head == w.base:
            cand = _candidate(repo, w, w.commit, w.base)
            verdicts = [Verdict(**v) for v in w.verdicts]
            verdicts.append(Verdict.ok(REVIEW_GATE, f"approved by {reviewer}", details={"message": message}))
            gates: Sequence[Gate] = [_Recorded(v) for v in verdicts]
        else:
            if regate is None:
                raise RepoError(
                    f"{repo.branch} moved since step {n} was proposed; its gates must run again against the new head"
                )
            tip = replay_onto(repo, w, head)
            if progress is not None:
                progress(
                    f"{repo.branch} moved since step {n} was proposed: replayed it onto {head[:10]}; "
                    "running the gates again against the new head"
                )
            gates = list(regate())  # before the branch moves: a gate that cannot start changes nothing
            cand = _candidate(repo, w, tip, head)
            review.update(regated_against=head, replayed_from=w.commit)
            repo.git.move_ref(f"refs/heads/{w.branch}", tip, w.commit)
            # the note names the commits as proposed: a ref keeps them from `git gc`
            repo.git.move_ref(replayed_ref(w), w.commit, None)
        try:
            return porcelain.judge(
                repo, cand, gates, _decided_note(w, review), extra_trailers=trailers, body=message or ""
            )
        except BaseException:  # undecided (e.g. the model endpoint failed): the candidate keeps waiting
            if (
                repo.git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{w.branch}", check=False)
                == cand.commit_sha
            ):
                repo.git.move_ref(f"refs/heads/{w.branch}", w.commit, cand.commit_sha)
                repo.git.delete_ref(replayed_ref(w))
            raise


def reject(repo: StepStore, n: int, reason: str) -> StepResult:
    """Record waiting step n as rejected at gate `review` with the reviewer's reason."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise RepoError('a rejection needs a reason (--reason "..."): the optimizer learns from it')
    with repo.lock():
        w = waiting_step(repo, n)
        reviewer = reviewer_identity(repo)
        review = _review_record(repo, "rejected", reviewer, reason)
        verdicts = [Verdict(**v) for v in w.verdicts]
        verdicts.append(Verdict.fail(REVIEW_GATE, reason, details={"reviewer": reviewer}))
        return porcelain.judge(
            repo, _candidate(repo, w, w.commit, w.base), [_Recorded(v) for v in verdicts],
            _decided_note(w, review), extra_trailers=[(REVIEWED_BY, reviewer)],
        )  # fmt: skip


def stop_line(repo: StepStore) -> str:
    """One line: how many candidates wait for review and what to run (empty when none wait)."""
    found = waiting(repo)
    if not found:
        return ""
    steps = ", ".join(str(w.step) for w in found)
    plural = "s await" if len(found) > 1 else " awaits"
    return (
        f"{len(found)} candidate{plural} review (step{'s' if len(found) > 1 else ''} {steps}): "
        f"run `fnforge review --repo {repo.root}`, then `fnforge approve N` or `fnforge reject N --reason ...`, "
        f"then `fnforge train --repo {repo.root} --resume`"
    )


__all__ = [
    "AWAITING", "REPLAYED_PREFIX", "REVIEWED_BY", "REVIEW_GATE", "WaitingCandidate", "approve", "candidate_diff", "hold",
    "reject", "replay_onto", "replayed_ref", "reviewer_identity", "stop_line", "waiting", "waiting_step",
]  # fmt: skip
