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
key, the URL, the model name, an offline cache miss) stops a run with an error.
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
from fnforge.engine.llm import LLMError, LLMUnavailable, Usage
from fnforge.engine.optimizer import OptimizerContext, Proposer, StepSummary, make_proposer
from fnforge.engine.precheck import PrecheckGate, failed_tasks
from fnforge.engine.splits import shared_task
from fnforge.engine.transcripts import TranscriptLog, runs_dir
from fnforge.engine.validation import StepAborted, ValidationGate, validation_gate
from fnforge.function_repo.review import hold, stop_line, waiting

Progress = Callable[..., None]
INTERRUPTED = "interrupted"
SOLVED = "solved"  # the gate of a step skipped because the head solved its batch
RECENT_BATCHES = 2  # how many earlier batches a solved batch draws its failures from


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


def started_run(repo: Any) -> str | None:
    """A run that was started but died before recording any step (its transcript folder exists)."""
    known = {r.run for r in all_records(repo)}
    folders = [p for p in runs_dir(repo.root).glob("*") if p.is_dir() and p.name not in known]
    return max(folders, key=lambda p: p.stat().st_mtime).name if folders else None


def next_run_name(repo: Any) -> str:
    """A fresh run name: train-1, train-2, ..."""
    runs = {r.run for r in all_records(repo)}
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
    from fnforge.sandbox import PolicyGate, PropertyGate, image_module_facts, image_packages

    policy = PolicyGate(image_packages(sandbox), image_module_facts(sandbox))
    return [StaticGate(), policy, PropertyGate(pool, sandbox)]


def training_gates(exp: Experiment, validation: ValidationGate) -> list[Any]:
    """The gates of a training step, cheapest first: static, policy, property, precheck, validation."""
    precheck = [PrecheckGate(exp.scorer, exp.val_tasks)] if exp.settings.training.precheck else []
    return [*candidate_gates(exp.settings.sandbox, exp.pool), *precheck, validation]


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
        self.validation = validation_gate(exp.scorer, exp.val_tasks, self.settings)
        self.gates = gates(exp, self.validation)
        self.precheck = next((g for g in self.gates if isinstance(g, PrecheckGate)), None)
        self.progress = progress or (lambda event, **kw: None)
        self._current = 0  # the step number being worked on
        exp.scorer.on_task = lambda split, done, total: self.progress(
            "task", split=split, done=done, total=total
        )
        if exp.llm is not None:
            exp.llm.on_wait = lambda line: self.progress("waiting", line=line)
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
                # step records carry their notes (flipped task lists grow with the validation
                # set): derive what is needed and hold none of them through the step
                position, since = progress_state(run_records(self.repo, self.run))
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
        exp, s = self.exp, self.settings
        t0 = time.perf_counter()
        # compact summaries only; candidates awaiting review are shown too
        history = self._history(all_records(self.repo))
        step_no = self._current = self.repo.next_step()
        epoch = position // max(1, len(self.schedule) // s.training.epochs)
        batch = self.schedule[position]
        self.progress("step", step=step_no, position=position, epoch=epoch, batch=len(batch))
        log = TranscriptLog.for_step(exp.root, self.run, step_no)
        exp.scorer.log = log
        llm0 = exp.llm.usage.copy() if exp.llm else Usage()

        head = dict(self.repo.functions())
        train_eval = exp.scorer.score(head, batch, split="train", keep_transcripts=True)
        t_train = time.perf_counter()
        llm1 = exp.llm.usage.copy() if exp.llm else Usage()
        self.progress("evaluated", step=step_no, train_score=train_eval.accuracy)
        learn = self._something_to_learn(position, head, batch, train_eval)
        if learn is None:
            return self._skip_solved_batch(step_no, position, epoch, batch, train_eval, log, t0)
        learn_tasks, learn_eval, learn_note = learn

        ctx = OptimizerContext(
            position=position,
            task_name=s.task.name,
            task_example=exp.evaluator.render(batch[0]) if batch else "",
            functions=head,
            history=history,
            transcripts=learn_eval.transcripts,
            train_score=learn_eval.accuracy,
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
            **_note_start(position, epoch, batch, train_eval),
            "learn_from": learn_note,
            "optimizer": {
                "attempts": proposal.attempts,
                "errors": proposal.errors,
                "prompt_tokens": proposal.prompt_tokens,
            },
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
                note["complexity"] = _complexity(candidate.functions)
                self.validation.note = note
                self._arm_precheck(learn_tasks, learn_eval, note)
                try:
                    if s.training.review == "human":
                        res = hold(self.repo, candidate, self.gates, note)
                    else:
                        res = self.repo.judge(candidate, self.gates, note)
                finally:
                    self.validation.note = None
                    self._arm_precheck([], None, None)
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

    def _skip_solved_batch(
        self, step_no: int, position: int, epoch: int, batch: list[Any], train_eval: Any, log: Any, t0: float
    ) -> StepOutcome:
        """Record a step whose batch (and recent batches) the head solves: no optimizer, no gates."""
        note = {
            **_note_start(position, epoch, batch, train_eval),
            "learn_from": {"source": "skipped", "failures": 0},
            "transcripts": str(log.path.relative_to(self.exp.root)),
        }
        reason = "the head solves this batch and the recent ones: nothing to learn, skipped to the next batch"
        res = self.repo.record_rejection(self.run, SOLVED, reason, note)
        outcome = StepOutcome(
            step=res.step,
            accepted=False,
            gate=SOLVED,
            reason=reason,
            score_before=None,
            score_after=None,
            actions=[],
            train_score=train_eval.accuracy,
            duration_s=round(time.perf_counter() - t0, 3),
        )
        self.progress("decided", **outcome.__dict__)
        return outcome

    def _arm_precheck(self, batch: Sequence[Any], train_eval: Any, note: dict[str, Any] | None) -> None:
        """Give the pre-check gate (if on) this step's failed batch tasks and note."""
        if self.precheck is not None:
            self.precheck.tasks = failed_tasks(batch, train_eval) if train_eval is not None else []
            self.precheck.note = note
            if train_eval is not None and batch:
                self.precheck.head_calls_per_task = train_eval.usage.calls / len(batch)

    def _history(self, records: Sequence[Any], shown: int = 12) -> list[StepSummary]:
        """The earlier steps for the optimizer; the latest accepted ones with their function lists."""
        kept = [r for r in records if r.gate != INTERRUPTED]
        out = []
        for i, r in enumerate(kept):
            names = sorted(self.repo.functions(r.commit)) if r.accepted and i >= len(kept) - shown else None
            out.append(_summary(r, names))
        return out


def _complexity(functions: dict[str, str]) -> dict[str, Any] | None:
    """The candidate set's size and cyclomatic complexity for the note (None if radon fails)."""
    from fnforge.function_repo.complexity import set_complexity

    try:
        return set_complexity(functions)
    except Exception:  # noqa: BLE001 - an analysis must never fail a step
        return None


def _note_start(position: int, epoch: int, batch: Sequence[Any], train_eval: Any) -> dict[str, Any]:
    """What every trainer step's note opens with: where in the schedule, the batch, its score."""
    return {
        "made_by": "trainer",
        "position": position,
        "epoch": epoch,
        "batch": [str(t.id) for t in batch],
        "train": train_eval.summary(),
    }


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
    with Experiment(repo, offline=offline, pool=pool) as exp:
        refuse_shared_tasks(exp)
        return Trainer(exp, run=run, progress=progress).train()


def refuse_shared_tasks(exp: Experiment) -> None:
    """Raise TrainingError naming the first task train, val and (if set) test share.

    The test tasks are read here only to compare them; the trainer never receives them.
    """
    splits = {"train": exp.train_tasks, "val": exp.val_tasks}
    if exp.settings.data.test:
        splits["test"] = exp.sealed_test_tasks()
    shared = shared_task(splits)
    if shared:
        raise TrainingError(f"the splits overlap: {shared}; every task must be in one split only")
