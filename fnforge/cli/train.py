"""`fnforge train` and `fnforge eval`: porcelain over fnforge.engine (parse, call, print)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from fnforge.cli.app import app
from fnforge.cli.output import MODE, console, err_console, fail, is_interactive, progress, result


def _open_repo(path: Path) -> Any:
    from fnforge.function_repo import FunctionRepo

    return FunctionRepo.open(path)


def training_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "fix your setup": printed as one line, never a traceback."""
    from fnforge.config import ConfigError
    from fnforge.engine.experiment import ExperimentError
    from fnforge.engine.llm import LLMError
    from fnforge.engine.trainer import TrainingError
    from fnforge.evaluators import EvaluatorError
    from fnforge.function_repo import RepoError
    from fnforge.sandbox import SandboxUnavailable

    return (
        ConfigError,
        ExperimentError,
        LLMError,
        TrainingError,
        RepoError,
        SandboxUnavailable,
        EvaluatorError,
    )


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _progress_text(event: str, kw: dict[str, Any]) -> str | None:
    """The human line for a trainer event (values escaped: reasons may contain [brackets])."""
    e = {k: escape(v) if isinstance(v, str) else v for k, v in kw.items()}
    if event == "step":
        return f"step {e['step']} (epoch {e['epoch'] + 1}): running the agent on {e['batch']} tasks"
    if event == "evaluated":
        return f"  train batch score {_fmt(e['train_score'])}; asking the optimizer"
    if event == "proposed":
        acts = [escape(a) for a in kw.get("actions") or []]
        if not acts and kw.get("error") == "no edit proposed":
            return "  the optimizer proposes no edit this step"
        if not acts:
            return f"  the optimizer gave no usable edits: {e.get('error')}"
        return f"  proposed: {', '.join(acts)}; running the gates"
    if event == "decided":
        verdict = "[green]accepted[/green]" if kw["accepted"] else f"[red]rejected[/red] at {e['gate']}"
        if kw.get("waiting"):
            verdict = "[yellow]awaiting review[/yellow] (passed every gate)"
        spend = f"; {_spend_text(kw['spend'])}" if kw.get("spend") else ""
        return f"  step {e['step']} {verdict}: {e['reason']} ({kw['duration_s']:.1f}s{spend})"
    if event == "recovered":
        return f"recovered: {e['what']}"
    if event == "interrupted":
        why = f" ({e['reason']})" if kw.get("reason") else ""
        return f"interrupted: the current step is recorded as rejected (interrupted){why}"
    if event == "context_learned":
        return (
            f"  the endpoint states a context window of {e['tokens']} tokens for {e['model']} "
            f"(fnforge.toml assumes {e['configured']}): the rest of the run fits its prompts to it; "
            f"set {e['setting']} in fnforge.toml"
        )
    if event == "waiting":
        return f"  {e['line']}"
    if event == "tracking":
        return f"  [yellow]tracking[/yellow]: {e['line']}"
    if event == "starting":
        return f"no step of run {e['run']} recorded yet: starting it"
    if event == "data" and kw.get("files"):
        files = kw["files"]
        rows = sum(f["rows"] for f in files)
        index = "index built" if any(f["index"] != "cached" for f in files) else "index cached"
        formats = ", ".join(sorted({f["format"] for f in files}))
        return escape(f"{kw['split']}: {rows} tasks ({formats}, {index})")
    if event == "data" and kw.get("warning"):
        return f"[yellow]data:[/yellow] {e['warning']}"
    if event == "data" and kw.get("sample"):
        size, of = kw["sample"]["size"], kw["sample"]["of"]
        return escape(f"validation: a seeded sample of {size} of {of} tasks ([data] val_sample)")
    if event == "stopped":
        return f"run {e['run']} stopped: {e['reason']}"
    return None


def _spend_text(snapshot: dict[str, Any]) -> str:
    """What the run spent so far, and what is left of each limit."""
    from fnforge.engine.ledger import describe_spend, fmt

    left = [fmt(u, v) for u, v in (snapshot.get("left") or {}).items() if v is not None]
    return describe_spend(snapshot) + (f"; left {', '.join(left)}" if left else "")


class TrainingProgress:
    """Trainer events on screen: lines as they happen and, on a terminal, a live status line."""

    def __init__(self) -> None:
        self.status: Any = None
        self.phase = ""
        if is_interactive():
            self.status = console.status("starting")
            self.status.start()

    def __call__(self, event: str, **kw: Any) -> None:
        if event == "task":
            if self.status is not None:
                self.status.update(f"{self.phase} {kw['split']}: {kw['done']}/{kw['total']} tasks")
            return
        text = _progress_text(event, kw)
        if text is not None and event == "stopped" and not MODE.json_lines and not MODE.quiet:
            console.print(text, soft_wrap=True)  # one line at any terminal width: it says what to run next
        elif text is not None:
            progress(text, event=event, **kw)
        if event == "step":
            self.phase = f"step {kw['step']}"
        if self.status is not None:
            doing = {"step": "running the agent", "evaluated": "asking the optimizer", "proposed": "gating"}
            self.status.update(f"{self.phase}: {doing.get(event, event)}")

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()


@app.command("train")
def train_command(
    repo: Path = typer.Option(..., "--repo", help="The function repository (made by `fnforge init`)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the latest (or --run) training run."),
    offline: bool = typer.Option(False, "--offline", help="Replay from the reply cache; a miss is an error."),
    run: str = typer.Option(
        None, "--run", help="Name of the run (default: train-<n>, or the latest on --resume)."
    ),
    budget_usd: float = typer.Option(None, "--budget-usd", help="Dollars the run may spend ([budget] usd)."),
    budget_tokens: int = typer.Option(
        None, "--budget-tokens", help="Tokens the run may use ([budget] tokens)."
    ),
    budget_requests: int = typer.Option(
        None, "--budget-requests", help="Requests the run may send ([budget] requests)."
    ),
    estimate: bool = typer.Option(
        False, "--estimate", help="Print what the run would cost, by role and step; send nothing."
    ),
) -> None:
    """Train the function set: steps of agent runs, optimizer edits and gates, until early stop.

    Exit status 3: the budget ran out; the line printed says what continues the run.
    """
    from fnforge.engine.ledger import BudgetExhausted
    from fnforge.engine.replay import replay, run_to_replay
    from fnforge.engine.trainer import train

    if estimate:
        _print_estimate(repo)
        return
    for flag, value in (
        ("--budget-usd", budget_usd),
        ("--budget-tokens", budget_tokens),
        ("--budget-requests", budget_requests),
    ):
        if value is not None and value < 0:
            fail(f"{flag} {value}: a budget is 0 (no limit) or more", code=2)
    shown = TrainingProgress()
    try:
        repository = _open_repo(repo)
        again = run_to_replay(repository, run=run, resume=resume, offline=offline)
        if again is not None:
            progress(f"replaying run {again} offline in a scratch clone (this repository is not changed)")
            checked = replay(repository, again, progress=shown)
            shown.close()
            verdict = "the same decisions" if checked.identical else "DIFFERENT decisions"
            lines = [f"replayed {checked.steps} steps of run {again} from the cache: {verdict}"]
            lines += [escape(d) for d in checked.differences]
            usage = checked.training.usage if checked.training else {}
            lines.append(f"{usage.get('http_requests', 0)} model requests")
            result(checked.to_dict(), "\n".join(lines))
            raise typer.Exit(0 if checked.identical else 1)
        budget = _budget(repository.settings, budget_usd, budget_tokens, budget_requests)
        outcome = train(repository, run=run, resume=resume, offline=offline, progress=shown, budget=budget)
    except BudgetExhausted as e:
        shown.close()
        err_console.print(
            escape(e.line(f"fnforge train --repo {repo}")), soft_wrap=True
        )  # what was spent of what, and what continues
        raise SystemExit(3) from None
    except training_errors() as e:
        shown.close()
        fail(str(e), code=2)
        return
    finally:
        shown.close()
    accepted = sum(1 for s in outcome.steps if s.accepted)
    usage = outcome.usage or {}
    human = (
        f"run {outcome.run}: {len(outcome.steps)} steps, {accepted} accepted; stopped: {outcome.stopped}\n"
        f"tokens {usage.get('tokens', 0)}, cost ${usage.get('cost_usd', 0.0):.4f}, "
        f"{usage.get('http_requests', 0)} model requests ({usage.get('cache_hits', 0)} from cache, "
        f"{usage.get('cached_tokens', 0)} cached tokens at no cost)\n"
        f"history: git -C {repo} log --first-parent --oneline"
    )
    result(outcome.to_dict(), human)
    if outcome.stopped == "interrupted":
        raise typer.Exit(130)


def _budget(settings: Any, usd: float | None, tokens: int | None, requests: int | None) -> Any:
    """`[budget]` with this call's --budget-* flags over it."""
    from fnforge.engine.ledger import Limits

    b = settings.budget
    return Limits(
        usd=b.usd if usd is None else usd,
        tokens=b.tokens if tokens is None else tokens,
        requests=b.requests if requests is None else requests,
    )


def _print_estimate(repo: Path) -> None:
    """`fnforge train --estimate`: the cost table, from the data and the prompts as built."""
    from fnforge.engine.estimate import estimate_repo

    try:
        est = estimate_repo(_open_repo(repo))
    except training_errors() as e:
        fail(str(e), code=2)
        return
    if MODE.json_lines:
        result(est.to_dict())
    else:
        console.print(escape(est.render()), soft_wrap=True)  # a table: never wrapped at the terminal's width


@app.command("eval")
def eval_command(
    repo: Path = typer.Option(..., "--repo", help="The function repository."),
    ref: str = typer.Option(None, "--ref", help="A step number, branch or commit (default: the set's head)."),
    split: str = typer.Option("val", "--split", help="val, train, or test (the sealed split, [data] test)."),
    task: str = typer.Option(
        None, "--task", help="Transfer: judge as this task (gsm8k, tabmwp, math, custom:...)."
    ),
    data: Path = typer.Option(None, "--data", help="Transfer: score on this task file instead of a split."),
    model: str = typer.Option(None, "--model", help="Transfer: the agent's model for this evaluation."),
    agent: str = typer.Option(None, "--agent", help="Transfer: the agent mode, tools, react or direct."),
    offline: bool = typer.Option(False, "--offline", help="Use only cached model replies."),
) -> None:
    """Score one step's function set: on a split, or elsewhere (another data file, task or model).

    The repository's settings are not changed. Test-split and transfer scores are kept as a
    note on the evaluated commit (refs/notes/fnforge-evals) and shown by `fnforge report`.
    """
    from fnforge.engine.transfer import evaluate

    if split not in ("val", "train", "test"):
        fail(f"--split {split!r}: expected val, train or test", code=2)
    if agent is not None and agent not in ("tools", "react", "direct"):
        fail(f"--agent {agent!r}: expected tools, react or direct", code=2)
    try:
        repository = _open_repo(repo)
        data_ = evaluate(
            repository, ref, split=split, task=task, data=data, model=model, agent=agent, offline=offline
        )
    except training_errors() as e:
        fail(str(e), code=2)
        return
    data_.pop("usage", None)
    data_ = {"ref": ref or "head", "split": split if data is None else "data", **data_}
    lo, hi = data_.get("interval") or (None, None)
    where = data_["data"] + (
        f" ({data_['task']}, {data_['model'] or data_['agent']})" if data_["kind"] == "transfer" else ""
    )
    human = (
        f"{ref or 'head'} on {where}: accuracy {data_['accuracy']:.3f} ({data_['correct']}/{data_['n']})"
        + (f", 95% interval [{lo:.3f}, {hi:.3f}]" if lo is not None else "")
    )
    if "commit" in data_:
        human += f"\nkept as a note on {data_['commit'][:10]} (git notes --ref fnforge-evals show {data_['commit'][:10]})"
    result(data_, human)
