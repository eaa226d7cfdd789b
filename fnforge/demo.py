"""The demo: a real training run on a TabMWP slice that needs no API key.

`fnforge demo` creates a function repository from the files in `examples/` (the task
slice, its fnforge.toml, and a reviewed list of edits), trains it in `direct` mode with
the scripted proposer in place of the optimizer LLM, and writes the report. Everything
else is the real thing: the store, the sandbox, the gates and the TabMWP evaluator. The
functions here only assemble those parts and summarise the run for the terminal.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fnforge.config import CONFIG_NAME

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTED_NOTICE = "replaying scripted edits; set a model in fnforge.toml to let an LLM propose them"
DEMO_MARKER = "# fnforge experiment file of the demo"
SPARKS = "▁▂▃▄▅▆▇█"

Progress = Callable[..., None]


class DemoError(ValueError):
    """The demo cannot start; the message says what to do."""


@dataclass
class DemoResult:
    """What the demo did: where its repository and report are, and the run's outcome."""

    root: Path
    report: Path
    training: Any  # fnforge.engine.trainer.TrainingResult
    history: str  # `git log --graph --oneline` of the set's branch
    curve: list[tuple[int, str, float | None]] = field(default_factory=list)  # (step, decision, head score)


def _example_files(examples: Path) -> dict[str, Path]:
    files = {
        CONFIG_NAME: examples / "demo-fnforge.toml",
        "demo_edits.json": examples / "demo_edits.json",
        "data/train.json": examples / "tabmwp" / "train.json",
        "data/val.json": examples / "tabmwp" / "val.json",
        "data/test.json": examples / "tabmwp" / "test.json",
        "data/README.md": examples / "tabmwp" / "README.md",
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise DemoError(
            f"demo files not found: {', '.join(missing)}; run `fnforge demo` from a fnforge checkout "
            "(the examples/ folder) or pass --examples DIR"
        )
    return files


def _clear_previous(out: Path) -> bool:
    """Remove an earlier demo repository at `out`; refuse anything else. True if one was removed."""
    if not out.exists():
        return False
    if out.is_dir() and not any(out.iterdir()):
        return False
    config = out / CONFIG_NAME
    if out.is_dir() and config.is_file() and config.read_text(encoding="utf-8").startswith(DEMO_MARKER):
        shutil.rmtree(out)
        return True
    raise DemoError(
        f"{out} exists and is not an earlier demo; pass --out NEW_DIR (fnforge demo never deletes it)"
    )


def create_demo_repo(out: Path | str, examples: Path = EXAMPLES) -> tuple[Any, bool]:
    """A fresh function repository at `out` with the demo's settings, tasks and scripted edits.

    An earlier demo at `out` is replaced; any other existing content is refused. Returns the
    opened FunctionRepo and whether an earlier demo was replaced.
    """
    from fnforge.function_repo import FunctionRepo, RepoError

    out = Path(out)
    files = _example_files(Path(examples))
    replaced = _clear_previous(out)
    try:
        repo = FunctionRepo.init(
            out, task="tabmwp", config_text=files[CONFIG_NAME].read_text(encoding="utf-8")
        )
    except RepoError as e:
        raise DemoError(str(e)) from None
    for target, source in files.items():
        if target != CONFIG_NAME:
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / target)
    repo.git.run("add", "--", "demo_edits.json", "data")
    repo.git.run(
        "commit", "-q", "-m", "Demo: a TabMWP slice (100 train, 100 val) and the scripted edits to replay"
    )
    return repo, replaced


def head_curve(records: list[Any]) -> list[tuple[int, str, float | None]]:
    """(step, decision, the set's validation score after the step) for each decided step."""
    head: float | None = None
    curve = []
    for r in sorted(records, key=lambda r: r.step):
        if head is None:
            head = r.score_before
        if r.accepted and r.score_after is not None:
            head = r.score_after
        decision = "accepted" if r.accepted else f"rejected at {r.gate}"
        curve.append((r.step, decision, head))
    return curve


def sparkline(values: list[float | None], low: float = 0.0, high: float = 1.0) -> str:
    """Scores as a one-line bar chart (`▁▂▄▆█`); unknown scores print as a space."""
    span = (high - low) or 1.0
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            k = round((min(max(v, low), high) - low) / span * (len(SPARKS) - 1))
            out.append(SPARKS[k])
    return "".join(out)


def open_demo_sandbox(settings: Any, say: Progress, build: bool = True) -> Any:
    """The demo's sandbox pool, saying plainly which isolation it got.

    With a Docker engine but no current image, the image is built first (once; later runs
    reuse it), so a machine with Docker shows the real sandbox. Without Docker, `auto` falls
    back to the weaker process backend, and its warning is shown as a line, not a traceback.
    """
    from fnforge.sandbox import SandboxUnavailable, WeakSandboxWarning, build_image, open_pool
    from fnforge.sandbox.image import docker_client, image_is_current

    sandbox = settings.sandbox
    if build and sandbox.backend != "process":
        client = docker_client()
        if client is not None and not image_is_current(sandbox, client):
            say(
                "demo",
                message="building the sandbox image once (`fnforge sandbox build`); later runs reuse it",
            )
            try:
                build_image(sandbox, progress=lambda line: say("demo", message=f"  {line}"))
            except SandboxUnavailable as e:
                say("demo", message=f"could not build the sandbox image: {e}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", WeakSandboxWarning)
        pool = open_pool(sandbox)
    for w in caught:
        if issubclass(w.category, WeakSandboxWarning):
            say("demo", message=f"warning: {w.message}")
    where = f"Docker containers from {sandbox.image}" if pool.backend_name == "docker" else "local processes"
    say("demo", message=f"sandbox: {pool.size} warm workers in {where}")
    return pool


def score_test_split(repo: Any, say: Progress, pool: Any) -> None:
    """Score the sealed test split with the starting set and the final head (kept for the report)."""
    from fnforge.engine.transfer import evaluate

    for ref, label in (("0", "starting set"), (None, "final head")):
        e = evaluate(repo, ref, split="test", pool=pool)
        lo, hi = e["interval"] or (0.0, 1.0)
        say("demo", message=f"test split, {label}: {e['accuracy']:.3f} (95% interval {lo:.3f}-{hi:.3f})")


def run_demo(
    out: Path | str = "demo-run",
    *,
    examples: Path = EXAMPLES,
    progress: Progress | None = None,
    build: bool = True,
) -> DemoResult:
    """Create the demo repository, train it with the scripted edits, and write its report."""
    from fnforge.engine.trainer import train
    from fnforge.report import write_report

    say = progress or (lambda event, **kw: None)
    repo, replaced = create_demo_repo(out, examples)
    root = Path(repo.root)
    if replaced:
        say("demo", message=f"replaced the earlier demo in {root}")
    say("demo", message=f"created the function repository {root} (task tabmwp, agent mode direct)")
    with ExitStack() as stack:
        stack.callback(repo.close)
        pool = stack.enter_context(open_demo_sandbox(repo.settings, say, build=build))
        training = train(repo, run="demo", progress=say, pool=pool)
        score_test_split(repo, say, pool)
        records = repo.steps(include_rejected=True)
        history = repo.git.run("log", "--graph", "--oneline", "--decorate", f"refs/heads/{repo.branch}")
    report = write_report(root, root / "report.html")
    return DemoResult(root=root, report=report, training=training, history=history, curve=head_curve(records))
