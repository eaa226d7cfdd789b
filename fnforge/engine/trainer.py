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
the current step as rejected by gate "interrupted" and closes everything cleanly.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fnforge.config import SandboxSettings
from fnforge.engine.experiment import Experiment
from fnforge.engine.llm import LLMError, Usage
from fnforge.engine.optimizer import OptimizerContext, Proposer, StepSummary, make_proposer
from fnforge.engine.transcripts import TranscriptLog
from fnforge.engine.validation import StepAborted, ValidationGate
from fnforge.function_repo.review import hold, stop_line, waiting

Progress = Callable[..., None]
INTERRUPTED = "interrupted"


class TrainingError(ValueError):
    """The run cannot start or continue as asked; the message says what to do."""


@dataclass
class StepOutcome:
    """What one step of this invocation did (the full record is in git)."""

    step: int
    accepted: bool
    gate: str | None
    reason: str
    score_before: float | None
    score_after: float | None
    actions: list[str]
    train_score: float | None
    duration_s: float
    waiting: bool = False  # passed every gate; waits for `fnforge approve/reject` (review = "human")


@dataclass
class TrainingResult:
    """The end of a `train` invocation: its steps, why it stopped, the head's validation score."""

    run: str
    steps: list[StepOutcome] = field(default_factory=list)
    stopped: str = ""
    recovered: list[str] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for `--json`."""
        return {
            "run": self.run,
            "stopped": self.stopped,
            "recovered": self.recovered,
            "usage": self.usage,
            "steps": [s.__dict__ for s in self.steps],
        }


def batch_schedule(tasks: Sequence[Any], batch_size: int, epochs: int, seed: int) -> list[list[Any]]:
    """Every batch of the run in order: each epoch a fresh seeded shuffle cut into batches."""
    per_epoch = max(1, math.ceil(len(tasks) / batch_size))
    batches = []
    for epoch in range(epochs):
        order = sorted(tasks, key=lambda t: str(t.id))
        random.Random(f"{seed}:{epoch}").shuffle(order)
        batches += [order[i * batch_size : (i + 1) * batch_size] for i in range(per_epoch)]
    return batches


def all_records(repo: Any) -> list[Any]:
    """Every recorded step and every candidate awaiting review (`review = "human"`), in step order."""
    return sorted([*repo.steps(include_rejected=True), *waiting(repo)], key=lambda r: r.step)


def run_records(repo: Any, run: str) -> list[Any]:
    """The recorded steps of one run, and its candidates awaiting review, in step order."""
    return [r for r in all_records(repo) if r.run == run]


def latest_run(repo: Any) -> str | None:
    """The run of the most recent step the trainer recorded (for `--resume` without `--run`)."""
    records = all_records(repo)
    for r in reversed(records):
        if (r.note or {}).get("made_by") == "trainer":
            return r.run
    return None


def next_run_name(repo: Any) -> str:
    """A fresh run name: train-1, train-2, ..."""
    runs = {r.run for r in repo.steps(include_rejected=True)}
    n = 1
    while f"train-{n}" in runs:
        n += 1
    return f"train-{n}"


def progress_state(records: Sequence[Any]) -> tuple[int, int]:
    """(position in the batch schedule, steps since the last improvement) of a run so far.

    Interrupted steps do not advance the schedule or count against patience: their batch is
    redone on resume.
    """
    position = 0
    since = 0
    for r in records:
        if r.gate == INTERRUPTED:
            continue
        position += 1
        if getattr(r, "waiting", False):  # its batch is done; whether it improves is the reviewer's call
            continue
        since = 0 if r.accepted else since + 1
    return position, since


def candidate_gates(sandbox: SandboxSettings, pool: Any) -> list[Any]:
    """The gates before validation, cheapest first: static, policy, property tests in `pool`.

    Training and `fnforge apply` both judge a candidate with these, so their order and
    their settings live here once.
    """
    from fnforge.function_repo import StaticGate
    from fnforge.sandbox import PolicyGate, PropertyGate, image_packages

    return [StaticGate(), PolicyGate(image_packages(sandbox)), PropertyGate(pool, sandbox)]


def training_gates(exp: Experiment, validation: ValidationGate) -> list[Any]:
    """The gates of a training step, cheapest first: static, policy, property, validation."""
    return [*candidate_gates(exp.settings.sandbox, exp.pool), validation]


class Trainer:
    """Runs (or resumes) one training run of a function repository."""

    def __init__(
        self,
        exp: Experiment,
        *,
        run: str,
        proposer: Proposer | None = None,
        gates: Callable[[Experiment, ValidationGate], list[Any]] = training_gates,
        progress: Progress | None = None,
    ):
        self.exp = exp
        self.repo = exp.repo
        self.settings = exp.settings
        self.run = run
        self.proposer = proposer or make_proposer(self.settings, exp.root, exp.llm)
        self.validation = ValidationGate(exp.scorer, exp.val_tasks, self.settings.training.min_delta)
        self.gates = gates(exp, self.validation)
        self.progress = progress or (lambda event, **kw: None)
        self._current = 0  # the step number being worked on
        exp.scorer.on_task = lambda split, done, total: self.progress(
            "task", split=split, done=done, total=total
        )
        self.schedule = batch_schedule(
            exp.train_tasks,
            self.settings.training.batch_size,
            self.settings.training.epochs,
            self.settings.training.seed,
        )
        try:
            from fnforge.sandbox import image_packages

            self.packages = list(image_packages(self.settings.sandbox))
        except Exception:  # noqa: BLE001 - the prompt then names no extra packages
            self.packages = []
        try:
            from fnforge.sandbox.policy import STDLIB_ALLOWED

            self.stdlib = sorted(STDLIB_ALLOWED)
        except ImportError:
            self.stdlib = []

    def train(self) -> TrainingResult:
        """Step until a stop condition holds; every step is recorded in the repository."""
        result = TrainingResult(run=self.run)
        usage0 = self.exp.llm.usage.copy() if self.exp.llm else Usage()
        with self.repo.lock():
            result.recovered = list(self.repo.recover() or [])
            for line in result.recovered:
                self.progress("recovered", what=line)
            self.repo.ensure_clean()  # say it now, not after a step's evaluation
            while True:
                records = run_records(self.repo, self.run)
                position, since = progress_state(records)
                stop = self._stop_reason(position, since)
                if stop:
                    result.stopped = stop
                    break
                try:
                    outcome = self._step(position, records)
                except KeyboardInterrupt:
                    self._record_interrupt()
                    result.stopped = INTERRUPTED
                    break
                except (StepAborted, LLMError) as e:
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

    def _record_interrupt(self) -> None:
        self.repo.recover()  # a half-made candidate of this step goes away
        if any(r.step == self._current for r in all_records(self.repo)):
            return  # Ctrl-C came after the step was decided: it stands as recorded
        self.repo.record_rejection(
            self.run,
            INTERRUPTED,
            "stopped by the user (Ctrl-C) during the step",
            {"made_by": "trainer", "interrupted": True},
        )
        self.progress("interrupted", run=self.run)

    def _step(self, position: int, records: Sequence[Any]) -> StepOutcome | None:
        exp, s = self.exp, self.settings
        t0 = time.perf_counter()
        all_steps = all_records(self.repo)  # candidates awaiting review are shown too
        step_no = self._current = self.repo.next_step()
        epoch = position // max(1, len(self.schedule) // s.training.epochs)
        batch = self.schedule[position]
        self.progress("step", step=step_no, position=position, epoch=epoch, batch=len(batch))
        log = TranscriptLog.for_step(exp.root, self.run, step_no)
        exp.scorer.log = log
        llm0 = exp.llm.usage.copy() if exp.llm else Usage()

        head = dict(self.repo.functions())
        train_eval = exp.scorer.score(head, batch, split="train")
        t_train = time.perf_counter()
        llm1 = exp.llm.usage.copy() if exp.llm else Usage()
        self.progress("evaluated", step=step_no, train_score=train_eval.accuracy)

        ctx = OptimizerContext(
            position=position,
            task_name=s.task.name,
            task_example=exp.evaluator.render(batch[0]) if batch else "",
            functions=head,
            history=self._history(all_steps),
            transcripts=train_eval.transcripts,
            train_score=train_eval.accuracy,
            packages=self.packages,
            stdlib=self.stdlib,
            seed=s.training.seed,
        )
        proposal = exp.background.run(self.proposer.propose(ctx))
        if proposal.exhausted:
            return None
        t_opt = time.perf_counter()
        llm2 = exp.llm.usage.copy() if exp.llm else Usage()
        note = {
            "made_by": "trainer",
            "position": position,
            "epoch": epoch,
            "batch": [str(t.id) for t in batch],
            "train": train_eval.summary(),
            "optimizer": {"attempts": proposal.attempts, "errors": proposal.errors},
            "usage": {"train": (llm1 - llm0).to_dict(), "optimizer": (llm2 - llm1).to_dict()},
            "durations_s": {"train": round(t_train - t0, 3), "optimizer": round(t_opt - t_train, 3)},
            "transcripts": str(log.path.relative_to(exp.root)),
        }
        self.progress(
            "proposed",
            step=step_no,
            actions=[a.summary for a in proposal.actions or []],
            error=proposal.error,
        )
        if proposal.actions is None:
            res = self.repo.record_rejection(self.run, "optimizer", proposal.error or "no actions", note)
        else:
            from fnforge.function_repo import ActionError

            try:
                candidate = self.repo.propose(proposal.actions, self.run)
            except ActionError as e:  # edits the store cannot apply are the optimizer's fault
                res = self.repo.record_rejection(self.run, "optimizer", str(e), note)
            else:
                self.validation.note = note
                try:
                    if s.training.review == "human":
                        res = hold(self.repo, candidate, self.gates, note)
                    else:
                        res = self.repo.judge(candidate, self.gates, note)
                finally:
                    self.validation.note = None
        outcome = StepOutcome(
            step=res.step,
            accepted=res.accepted,
            gate=res.gate,
            reason=res.reason,
            score_before=res.score_before,
            score_after=res.score_after,
            actions=list(res.actions),
            train_score=train_eval.accuracy,
            duration_s=round(time.perf_counter() - t0, 3),
            waiting=res.waiting,
        )
        self.progress("decided", **outcome.__dict__)
        return outcome

    def _history(self, records: Sequence[Any], shown: int = 12) -> list[StepSummary]:
        """The earlier steps for the optimizer; the latest accepted ones with their function lists."""
        kept = [r for r in records if r.gate != INTERRUPTED]
        out = []
        for i, r in enumerate(kept):
            names = sorted(self.repo.functions(r.commit)) if r.accepted and i >= len(kept) - shown else None
            out.append(_summary(r, names))
        return out


def _summary(r: Any, functions: list[str] | None = None) -> StepSummary:
    return StepSummary(
        step=r.step,
        decision=r.decision,
        gate=r.gate,
        reason=r.reason,
        score_before=r.score_before,
        score_after=r.score_after,
        actions=list(r.actions),
        functions=functions,
    )


def train(
    repo: Any,
    *,
    run: str | None = None,
    resume: bool = False,
    offline: bool = False,
    progress: Progress | None = None,
    pool: Any = None,
) -> TrainingResult:
    """Train a function repository: a new run, or `resume=True` to continue one."""
    known = {r.run for r in repo.steps(include_rejected=True)}
    if resume:
        run = run or latest_run(repo)
        if run is None:
            raise TrainingError(
                "nothing to resume: no training run in this repository; run `fnforge train` first"
            )
    else:
        run = run or next_run_name(repo)
        if run in known:
            raise TrainingError(
                f"run {run!r} exists; continue it with --resume or start another with --run NAME"
            )
    with Experiment(repo, offline=offline, pool=pool) as exp:
        return Trainer(exp, run=run, progress=progress).train()
