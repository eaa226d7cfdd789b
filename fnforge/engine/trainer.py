"""The training loop: steps over shuffled training batches until early stop, resumable from git.

One step: score the head set on a training batch (transcripts kept), ask the proposer for
edits, commit them as a candidate (`repo.propose`), run the gates cheapest first (static,
policy, property tests in the sandbox, validation), and let the store merge or reject it
(`repo.judge`). Steps continue over epochs of the seeded shuffle until `patience` steps in
a row bring no improvement, `max_steps`, the last epoch, or the end of a scripted list.

Everything the loop needs to continue lives in the repository: the run's recorded steps
say how far it got (the batch schedule is a pure function of the seed and that count) and
how long since the last improvement. So after `kill -9` a resumed run discards the
half-made candidate (`repo.recover()`), redoes that step with the same batch, and the
reply cache makes the redo ask and get exactly what the first attempt did. Ctrl-C records
the current step as rejected by gate "interrupted" and closes everything cleanly; so does an
endpoint that stays rate limited or down past its waits (`LLMUnavailable`). Refused and cut
optimizer replies are recorded rejections like any other. Only what the user must fix (the
key, the URL, the model name, an offline cache miss) stops a run with an error, and so does a
spent budget (`BudgetExhausted`, `ledger.py`): the step in flight is left as a crash leaves it.
With `[training] candidates = k` a step's k proposals are gated and one (or, with `combine`, their
union) validated (`step_candidates`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fnforge.config import unpriced_budget
from fnforge.engine.data_sources import data_events, shared_split_task
from fnforge.engine.experiment import Experiment
from fnforge.engine.ledger import BudgetExhausted, Limits
from fnforge.engine.llm import LLMError, LLMUnavailable, Usage
from fnforge.engine.optimizer import OptimizerContext, Proposal, Proposer, StepSummary, make_proposer
from fnforge.engine.optimizer_prompt import failures_shown
from fnforge.engine.outcomes import StepOutcome, TrainingResult
from fnforge.engine.precheck import failed_tasks
from fnforge.engine.run_budget import open_ledger, spend_fields, write_estimate
from fnforge.engine.run_observer import observe_run
from fnforge.engine.run_records import (
    INTERRUPTED,
    HeldRecord,
    all_records,
    latest_run,
    next_run_name,
    progress_state,
    started_run,
)
from fnforge.engine.schedule import BatchSchedule
from fnforge.engine.sequential_walk import HeadScores
from fnforge.engine.step_candidates import judge_several
from fnforge.engine.step_gates import candidate_gates, training_gates
from fnforge.engine.step_notes import (
    candidate_complexity,
    learned_windows,
    note_start,
    optimizer_history,
    restore_windows,
)
from fnforge.engine.transcripts import TranscriptLog, runs_dir
from fnforge.engine.validation import StepAborted
from fnforge.function_repo.review import hold, stop_line, waiting

Progress = Callable[..., None]
SOLVED = "solved"  # the gate of a step skipped because the head solved its batch
RECENT_BATCHES = 2  # how many earlier batches a solved batch draws its failures from


class TrainingError(ValueError):
    """The run cannot start or continue as asked; the message says what to do."""


@dataclass
class _StepWork:
    """What a step's phases hand on: where in the schedule, the batch, its log, the head's scores."""

    step: int
    position: int
    epoch: int
    batch: list[Any]
    log: TranscriptLog
    t0: float
    history: list[StepSummary]
    usage_start: Usage
    head: dict[str, str] = field(default_factory=dict)
    train_eval: Any = None  # the head's Evaluation on the batch
    t_train: float = 0.0
    usage_train: Usage = field(default_factory=Usage)
    # what the optimizer learns from (the batch, or recent batches' failures); None: skip the batch
    learn_tasks: list[Any] = field(default_factory=list)
    learn_eval: Any = None
    learn_note: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Runs (or resumes) one training run of a function repository."""

    def __init__(
        self,
        exp: Experiment,
        *,
        run: str,
        proposer: Proposer | None = None,
        progress: Progress | None = None,
        between_steps: Callable[[Trainer], None] | None = None,
    ):
        self.exp = exp
        self.between_steps = between_steps  # before each step: e.g. a replay's recorded review decisions
        self.repo = exp.repo
        self.settings = exp.settings
        self.run = run
        self.proposer = proposer or make_proposer(self.settings, exp.root, exp.llm)
        # the gates with no per-step input, built once; each step adds its pre-check and validation
        self.candidate_gates = candidate_gates(exp.settings.sandbox, exp.pool)
        self.heads = HeadScores()  # the head's per-task validation scores, reused by every candidate
        self.progress = progress or (lambda event, **kw: None)
        self._current = 0  # the step number being worked on
        self.records: list[HeldRecord] = []  # read once (no notes kept) as the run starts; steps append
        self._windows_noted: dict[str, int] = {}  # context windows learned and already in a note
        exp.scorer.on_task = lambda split, done, total: self.progress(
            "task", split=split, done=done, total=total
        )
        if exp.llm is not None:
            exp.llm.on_wait = lambda line: self.progress("waiting", line=line)
        self.schedule = BatchSchedule(
            exp.train_tasks,
            self.settings.training.batch_size,
            self.settings.training.epochs,
            self.settings.training.seed,
        )
        from fnforge.sandbox import STDLIB_ALLOWED

        self.packages = exp.pool.packages()  # what the sandbox the candidates run in offers
        self.stdlib = sorted(STDLIB_ALLOWED)

    def train(self) -> TrainingResult:
        """Step until a stop condition holds; every step is recorded in the repository."""
        result = TrainingResult(run=self.run)
        usage0 = self.exp.llm.usage.copy() if self.exp.llm else Usage()
        with self.repo.lock():
            result.recovered = list(self.repo.recover() or [])
            for line in result.recovered:
                self.progress("recovered", what=line)
            self.repo.ensure_clean()  # say it now, not after a step's evaluation
            recorded = all_records(self.repo)  # the one read of the notes: windows learned, then compact
            self._windows_noted = restore_windows(self.exp.llm, [r for r in recorded if r.run == self.run])
            self.records = [HeldRecord.of(r) for r in recorded]
            while True:
                if self.between_steps is not None:
                    self.between_steps(self)  # may record a person's decision: hold the notes anew
                    self.records = [HeldRecord.of(r) for r in all_records(self.repo)]
                position, since = progress_state([r for r in self.records if r.run == self.run])
                stop = self._stop_reason(position, since)
                if stop:
                    result.stopped = stop
                    break
                try:
                    outcome = self._step(position)
                except KeyboardInterrupt:
                    self._record_interrupt()
                    result.stopped = INTERRUPTED
                    break
                except (StepAborted, LLMError) as e:
                    error = e.error if isinstance(e, StepAborted) else e
                    if isinstance(error, BudgetExhausted):  # the step stays as a crash leaves it
                        raise error from None
                    if isinstance(error, LLMUnavailable):  # nothing to fix: pause, resume later
                        self._record_interrupt(str(error))
                        result.stopped = INTERRUPTED
                        break
                    # the setup failed (key, endpoint, offline cache miss): nothing is recorded,
                    # the half-made candidate goes, and the step is redone on the next run
                    self.repo.recover()
                    raise (e.error if isinstance(e, StepAborted) else e) from None
                if outcome is None:
                    result.stopped = "scripted edits exhausted"
                    break
                result.steps.append(outcome)
        if self.exp.llm:
            result.usage = (self.exp.llm.usage - usage0).to_dict()
            result.spend = spend_fields(self.exp.llm)
        if (pending := stop_line(self.repo)) and pending not in result.stopped:
            result.stopped = f"{result.stopped}; {pending}"  # whatever stopped the run, say who waits
        self.progress("stopped", reason=result.stopped, run=self.run)
        return result

    def _stop_reason(self, position: int, since: int) -> str:
        t = self.settings.training
        if t.review == "human" and len(waiting(self.repo)) >= t.review_queue:
            return stop_line(self.repo)
        if since >= t.patience:
            return f"early stop: {since} steps without improvement (patience {t.patience})"
        if position >= t.max_steps:
            return f"max_steps reached ({t.max_steps})"
        if position >= len(self.schedule):
            return f"all {t.epochs} epochs done"
        if not self.proposer.has_step(position):  # say so before running the agent on a batch
            return "scripted edits exhausted"
        return ""

    def _record_interrupt(self, why: str | None = None) -> None:
        self.repo.recover()  # a half-made candidate of this step goes away
        if any(r.step == self._current for r in all_records(self.repo)):
            return  # Ctrl-C came after the step was decided: it stands as recorded
        self.repo.record_rejection(
            self.run,
            INTERRUPTED,
            why or "stopped by the user (Ctrl-C) during the step",
            {"made_by": "trainer", "interrupted": True},
        )
        self.progress("interrupted", run=self.run, reason=why)

    def _step(self, position: int) -> StepOutcome | None:
        """One step, phase by phase: train batch, optimizer, gates and judge, record the outcome."""
        work = self._train_batch(position)
        if work.learn_eval is None:
            return self._skip_solved_batch(work)
        proposed = self._optimize(work)
        if proposed is None:
            return None
        proposals, note = proposed
        if len(proposals) == 1:
            return self._decided(work, self._judge(work, proposals[0], note))
        t, gates = self.settings.training, (lambda: self._gates(work, split=True))
        res = judge_several(
            self.repo, self.run, proposals, note, gates, self._judge_with, t.combine, t.validate_candidates
        )
        return self._decided(work, res)

    def _train_batch(self, position: int) -> _StepWork:
        """Phase 1: open the step's log, score the head on its batch, find what to learn from."""
        exp, s = self.exp, self.settings
        t0 = time.perf_counter()
        # compact summaries only; candidates awaiting review are shown too
        history = optimizer_history(self.repo, self.records)
        step_no = self._current = self.repo.next_step()
        epoch = position // max(1, len(self.schedule) // s.training.epochs)
        batch = self.schedule[position]
        self.progress("step", step=step_no, position=position, epoch=epoch, batch=len(batch))
        log = TranscriptLog.for_step(exp.root, self.run, step_no)
        exp.scorer.log = log
        work = _StepWork(step_no, position, epoch, batch, log, t0, history, self._usage())
        work.head = dict(self.repo.functions())
        work.train_eval = exp.scorer.score(work.head, batch, split="train", keep_transcripts=True)
        work.t_train = time.perf_counter()
        work.usage_train = self._usage()
        self.progress("evaluated", step=step_no, train_score=work.train_eval.accuracy)
        learn = self._something_to_learn(position, work.head, batch, work.train_eval)
        if learn is not None:
            work.learn_tasks, work.learn_eval, work.learn_note = learn
        return work

    def _optimize(self, work: _StepWork) -> tuple[list[Proposal], dict[str, Any]] | None:
        """Phase 2: ask the proposer for edits; the step's note with train and optimizer figures.

        None when a scripted list of edits is exhausted.
        """
        exp, s = self.exp, self.settings
        learn_eval = work.learn_eval
        ctx = OptimizerContext(
            position=work.position,
            task_name=s.task.name,
            task_example=exp.evaluator.render(work.batch[0]) if work.batch else "",
            functions=work.head,
            history=work.history,
            transcripts=learn_eval.transcripts,
            train_score=learn_eval.accuracy,
            packages=self.packages,
            stdlib=self.stdlib,
            seed=s.training.seed,
            failures=failures_shown(s.training.candidates, s.training.combine),
        )
        k = s.training.candidates
        proposals = exp.background.run(
            self.proposer.propose_many(ctx, k) if k > 1 else self.proposer.propose(ctx)
        )
        proposals = proposals if isinstance(proposals, list) else [proposals]
        proposal = proposals[0]
        if proposal.exhausted:
            return None
        learned = learned_windows(exp.llm, s.llm, self._windows_noted)
        for model, info in learned.items():
            self.progress("context_learned", model=model, **info)
        t_opt = time.perf_counter()
        usage_opt = self._usage()
        note = {
            **note_start(work.position, work.epoch, work.batch, work.train_eval),
            "learn_from": work.learn_note,
            "optimizer": {
                **proposal.note(),
                "attempts": sum(p.attempts for p in proposals),
                "errors": [e for p in proposals for e in p.errors],
                "proposals": len(proposals),
            },
            "usage": {
                "train": (work.usage_train - work.usage_start).to_dict(),
                "optimizer": (usage_opt - work.usage_train).to_dict(),
            },
            "durations_s": {
                "train": round(work.t_train - work.t0, 3),
                "optimizer": round(t_opt - work.t_train, 3),
            },
            "transcripts": str(work.log.path.relative_to(exp.root)),
            **({"context_window": learned} if learned else {}),
        }
        if exp.val_sample is not None:  # validation scores a seeded sample, not the whole split
            note["validation_sample"] = exp.val_sample.to_dict()
        actions = [a.summary for p in proposals for a in p.actions or []]
        self.progress("proposed", step=work.step, actions=actions, error=proposal.error)
        return proposals, note

    def _judge(self, work: _StepWork, proposal: Proposal, note: dict[str, Any]) -> Any:
        """Phase 3: commit the edits as a candidate and judge it with this step's own gates.

        The pre-check and validation gates are built here with the step's inputs (the tasks the
        head failed on what the optimizer learned from); their figures stay in their verdicts.
        """
        if proposal.actions is None:
            return self.repo.record_rejection(self.run, "optimizer", proposal.error or "no actions", note)
        from fnforge.function_repo import ActionError

        try:
            candidate = self.repo.propose(proposal.actions, self.run)
        except ActionError as e:  # edits the store cannot apply are the optimizer's fault
            return self.repo.record_rejection(self.run, "optimizer", str(e), note)
        note["complexity"] = candidate_complexity(candidate.functions)
        return self._judge_with(candidate, self._gates(work), note)

    def _gates(self, work: _StepWork, split: bool = False) -> Any:
        """This step's gates (the pre-check and validation built with its inputs); with `split`,
        (the gates before validation, the validation gate) for a step of several candidates."""
        tasks, learn_eval = work.learn_tasks, work.learn_eval
        calls_per_task = learn_eval.usage.calls / len(tasks) if tasks else 1.0
        failed = failed_tasks(tasks, learn_eval)
        gates = training_gates(self.exp, self.candidate_gates, failed, calls_per_task, self.heads)
        return (gates[:-1], gates[-1]) if split else gates

    def _judge_with(self, candidate: Any, gates: list[Any], note: dict[str, Any]) -> Any:
        """Merge or reject the candidate, or hold it for a person (`review = "human"`)."""
        if self.settings.training.review == "human":
            return hold(self.repo, candidate, gates, note)
        return self.repo.judge(candidate, gates, note)

    def _decided(self, work: _StepWork, res: Any) -> StepOutcome:
        """Phase 4: the outcome of a recorded step, held for the next steps and told to the display."""
        self.records.append(HeldRecord.of(res))
        outcome = StepOutcome(
            step=res.step,
            accepted=res.accepted,
            gate=res.gate,
            reason=res.reason,
            score_before=res.score_before,
            score_after=res.score_after,
            actions=list(res.actions),
            train_score=work.train_eval.accuracy,
            duration_s=round(time.perf_counter() - work.t0, 3),
            waiting=res.waiting,
        )
        self.progress("decided", **outcome.__dict__, spend=spend_fields(self.exp.llm))
        return outcome

    def _usage(self) -> Usage:
        """A snapshot of the model usage so far, to diff per phase."""
        return self.exp.llm.usage.copy() if self.exp.llm else Usage()

    def _something_to_learn(
        self, position: int, head: dict[str, str], batch: list[Any], train_eval: Any
    ) -> tuple[list[Any], Any, dict[str, Any]] | None:
        """The tasks, evaluation and note the optimizer learns from; None to skip this batch.

        A batch with a failure is its own lesson. When the head solves the whole batch, the
        failures come from the run's recent batches (`[training] solved_batch = "recent"`,
        the head scored on them again), or the batch is skipped (`"skip"`, or when the recent
        batches are solved too); `"ask"` asks the optimizer anyway, as before.
        """
        how = self.settings.training.solved_batch
        failures = failed_tasks(batch, train_eval)
        if failures or how == "ask":
            return batch, train_eval, {"source": "batch", "failures": len(failures)}
        if how == "recent":
            here = {str(t.id) for t in batch}
            recent = [t for b in self.schedule[max(0, position - RECENT_BATCHES) : position] for t in b]
            recent = [t for t in {str(t.id): t for t in recent}.values() if str(t.id) not in here]
            if recent:
                ev = self.exp.scorer.score(head, recent, split="train-recent", keep_transcripts=True)
                failures = failed_tasks(recent, ev)
                if failures:
                    positions = list(range(max(0, position - RECENT_BATCHES), position))
                    return recent, ev, {"source": "recent", "failures": len(failures), "positions": positions}
        return None

    def _skip_solved_batch(self, work: _StepWork) -> StepOutcome:
        """Record a step whose batch (and recent batches) the head solves: no optimizer, no gates."""
        note = {
            **note_start(work.position, work.epoch, work.batch, work.train_eval),
            "learn_from": {"source": "skipped", "failures": 0},
            "transcripts": str(work.log.path.relative_to(self.exp.root)),
        }
        reason = "the head solves this batch and the recent ones: nothing to learn, skipped to the next batch"
        res = self.repo.record_rejection(self.run, SOLVED, reason, note)
        return self._decided(work, res)  # rejected at gate "solved": no scores, no actions


def train(
    repo: Any,
    *,
    run: str | None = None,
    resume: bool = False,
    offline: bool = False,
    progress: Progress | None = None,
    pool: Any = None,
    between_steps: Callable[[Trainer], None] | None = None,
    budget: Limits | None = None,
) -> TrainingResult:
    """Train a function repository: a new run, or `resume=True` to continue one.

    `budget` overrides `[budget]` for this call; `BudgetExhausted` ends it when the next
    request cannot be afforded (the CLI's exit status 3).
    """
    known = {r.run for r in all_records(repo)}  # a run whose steps all wait for review exists too
    if resume:
        # a supervisor restarts `--resume` after any crash, also one before the first step was
        # recorded: then there is nothing to continue, and the run starts (and says so)
        run = run or latest_run(repo) or started_run(repo)
        if run is None or run not in known:
            run = run or next_run_name(repo)
            if progress is not None:
                progress("starting", run=run)
    else:
        run = run or next_run_name(repo)
        if run in known:
            raise TrainingError(
                f"run {run!r} exists; continue it with --resume or start another with --run NAME"
            )
    (runs_dir(repo.root) / run).mkdir(parents=True, exist_ok=True)  # so a crash now can be resumed
    limits = budget or Limits(**repo.settings.budget.model_dump())
    if (why := unpriced_budget(repo.settings, limits.usd)) is not None:
        raise TrainingError(why)
    with Experiment(repo, offline=offline, pool=pool) as exp:
        if shared := shared_split_task(exp):  # by hashes of ids and questions: no task read unless shared
            raise TrainingError(f"the splits overlap: {shared}; every task must be in one split only")
        open_ledger(exp, run, limits)
        write_estimate(exp, run)
        # the in-flight file (`fnforge watch`) and the tracker follow the trainer's own events
        with observe_run(exp, run, offline=offline, progress=progress) as observer:
            for event in data_events(exp):
                observer("data", **event)  # each split's files, bad rows skipped, a validation sample
            return Trainer(exp, run=run, progress=observer, between_steps=between_steps).train()
