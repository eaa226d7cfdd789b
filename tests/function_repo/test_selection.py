"""Several candidates of one step on real git: the unchosen are kept as rejected refs, the step stays one."""

from __future__ import annotations

import json

from repo_helpers import ScoreGate, add, git

from fnforge.engine.candidates import (
    KnownVerdict,
    changed_lines,
    choose,
    combinable,
    selection_note,
    why_not_chosen,
)
from fnforge.protocol import Verdict


def _precheck(fixed: int) -> Verdict:
    return Verdict.ok("precheck", f"fixes {fixed}", details={"fixed": [f"t{i}" for i in range(fixed)]})


def test_the_best_precheck_is_chosen_and_the_others_are_kept_under_their_own_refs(repo):
    n = repo.next_step()
    gated = []
    for i, name in enumerate(["one", "two", "three"], 1):
        cand = repo.propose([add(name)], "r1", step=n, suffix=f"-c{i}")
        gated.append((cand, [Verdict.ok("static", "ok"), _precheck(1 if i != 2 else 3)]))
    assert repo.next_step() == n + 1  # the candidate branches hold the step number n
    chosen = choose(gated)
    assert chosen == 1
    for i, (cand, verdicts) in enumerate(gated):
        if i != chosen:
            note = {"selection": {"why": why_not_chosen(gated, chosen, i)}}
            repo.keep_unchosen(cand, verdicts, note)
    winner, verdicts = gated[chosen]
    known = [KnownVerdict(v.gate, v) for v in verdicts]
    res = repo.judge(winner, [*known, ScoreGate(0.5, 0.6)], {"selection": selection_note(gated, chosen)})
    assert res.accepted and res.step == n
    records = repo.steps(include_rejected=True)
    assert [r.step for r in records] == [n]  # one step, whatever its candidates
    assert records[0].note["selection"]["chosen"] == "c2"
    for i in (1, 3):
        ref = f"refs/fnforge/rejected/r1/step-{n}-c{i}"
        kept = json.loads(git(repo.root, "notes", "--ref", "fnforge", "show", ref))
        assert kept["gate"] == "selection" and "c2 was validated instead" in kept["reason"]
        assert kept["verdicts"][1]["details"]["fixed"] == ["t0"]
        assert "Fnforge-Selection: rejected: selection" in git(repo.root, "log", "-1", "--format=%B", ref)
    assert "fnforge/" not in git(repo.root, "branch", "--list")  # no candidate branch is left
    assert repo.next_step() == n + 1


def test_ties_go_to_the_smaller_change_and_a_failing_candidate_is_never_chosen() -> None:
    class C:
        def __init__(self, code: str):
            self.base_functions = {}
            self.functions = {"f": code}

    small, big = C("a\n"), C("a\nb\nc\n")
    assert changed_lines({}, {"f": "a\nb\n"}) == 2
    assert choose([(big, [_precheck(2)]), (small, [_precheck(2)])]) == 1
    assert choose([(small, [Verdict.fail("static", "no")]), (big, [_precheck(0)])]) == 1
    assert choose([(small, [Verdict.fail("static", "no")])]) == 0


def test_only_proposals_that_each_fix_tasks_and_touch_different_functions_are_combined(repo) -> None:
    n = repo.next_step()
    names = ["one", "two", "one", "three", "four"]
    fixes = [2, 1, 3, 0, 1]
    gated = []
    for i, (name, fixed) in enumerate(zip(names, fixes, strict=True), 1):
        cand = repo.propose([add(name)], "r1", step=n, suffix=f"-c{i}")
        gate = Verdict.fail("static", "no") if name == "four" else Verdict.ok("static", "ok")
        gated.append((cand, [gate, _precheck(fixed)]))
    # c3 beats c1 on `one` (more fixes); c4 fixes nothing; c5 failed a gate
    assert combinable(gated) == [1, 2]
    assert combinable(gated[:2] + gated[3:]) == [0, 1]
    assert combinable([gated[0], gated[2], gated[3]]) == []  # both edit `one`: nothing to combine
