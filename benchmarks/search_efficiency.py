"""More improvement per dollar: the seed paper's loop against fnforge's defaults, at equal budgets.

The world (`search_world.py`): 600 tasks in 12 hidden kinds (200 train, 200 validation,
200 test); a simulated agent solves a task when the set holds a good function for its kind
(95%, else 5%), a simulated optimizer shown failures proposes a function for a failing kind,
good with probability 0.35, breaking another kind with probability 0.25, with a ~1,200-token
module per reply. Both models answer through the local OpenAI-compatible server and the real
`openai` client, priced at list prices (agent gpt-4o-mini: $0.15/$0.60, optimizer gpt-4o:
$2.50/$10.00 per million tokens). Everything else is fnforge's real code: the trainer, the
gates (static, policy, property tests in the sandbox, pre-check, validation), the acceptance
rules, the ledger that stops each run at the budget.

Two runs, each with `[budget] usd = BUDGET` and no early stop (the budget ends both):

  * paper (the baseline): one candidate a step, full validation, `accept = "improves"`, no
    pre-check, the optimizer asked on every batch (`solved_batch = "ask"`);
  * fnforge: the defaults `fnforge init` writes (sequential validation, `significant`, pre-check,
    its `candidates`, `combine`, `validate_candidates` and `[llm] optimizer_sources`,
    `solved_batch = "recent"`, optimizer temperature 0.7); `--candidates K` measures another k,
    `--set combine=false` the loop without combining (`--set llm.KEY=VALUE` for [llm]).

Both are averaged over `--worlds` worlds (default 12: with 3, the mean of a loop moved by about
0.05 from one set of worlds to the next, more than the differences being measured). A world is
about 30 s a loop on two cores.

After every step the head set's exact expected accuracy on the test split is taken beside the
dollars the server billed so far. Printed: both curves, and the dollars fnforge needed to reach
the paper loop's final test accuracy. Last line:
`RESULT budget_usd=<b> paper_test=<acc> fnforge_test=<acc> dollars_to_paper_final=<ratio>`
(ratio = those dollars / b). Targets: ratio <= 0.5 and fnforge_test >= paper_test.

    .venv/bin/python benchmarks/search_efficiency.py [--budget 1.0] [--candidates K] [--backend auto]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "tests")]

import search_world as world  # noqa: E402
from llm_server import LLMServer  # noqa: E402

from fnforge.config import Settings, render_template  # noqa: E402
from fnforge.engine.trainer import train  # noqa: E402
from fnforge.function_repo import FunctionRepo  # noqa: E402

PAPER = {
    "validation": '"full"',
    "accept": '"improves"',
    "precheck": "false",
    "candidates": "1",
    "solved_batch": '"ask"',
}


def config_text(
    base_url: str, budget: float, training: dict[str, str], backend: str, max_steps: int, seed: int = 3
) -> str:
    """fnforge.toml for one run: the world's models and prices, a budget, no early stop.

    `training` holds [training] values, and [llm] ones under keys `llm.<name>`.
    """
    prices = ", ".join(
        f'"{m}" = {{ input = {p["input"]}, output = {p["output"]} }}' for m, p in world.PRICES.items()
    )
    extra = "".join(f"{k} = {v}\n" for k, v in training.items() if not k.startswith("llm."))
    llm = "".join(f"{k[4:]} = {v}\n" for k, v in training.items() if k.startswith("llm."))
    return f"""[task]
name = "gsm8k"
[data]
train = "data/train.jsonl"
val = "data/val.jsonl"
[llm]
base_url = "{base_url}"
model = "{world.AGENT_MODEL}"
optimizer_model = "{world.OPTIMIZER_MODEL}"
api_key_env = "FNFORGE_BENCH_KEY"
optimizer_temperature = 0.7
max_tokens = 256
optimizer_max_tokens = 4096
prices = {{ {prices} }}
{llm}[agent]
mode = "tools"
max_turns = 2
[training]
epochs = 50
batch_size = 16
max_actions = 1
patience = 1000
max_steps = {max_steps}
concurrency = 16
seed = {seed}
{extra}[budget]
usd = {budget}
[sandbox]
backend = "{backend}"
pool = 2
"""


def run_loop(
    name: str,
    server: LLMServer,
    budget: float,
    training: dict[str, str],
    args: argparse.Namespace,
    where: Path,
):
    """One run until its budget stops it: [(dollars billed, test accuracy of the head)] after each step."""
    tasks = world.make_tasks(args.world_seed)
    train_rows, val_rows, test_rows = tasks[:200], tasks[200:400], tasks[400:]
    repo = FunctionRepo.init(
        where / name,
        config_text=config_text(
            server.base_url, budget, training, args.backend, args.max_steps, args.world_seed + 3
        ),
    )
    world.write_jsonl(repo.root / "data" / "train.jsonl", train_rows)
    world.write_jsonl(repo.root / "data" / "val.jsonl", val_rows)
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "data")
    base = server.cost_usd(world.PRICES)
    curve = [(0.0, world.expected_accuracy({}, test_rows))]

    def progress(event: str, **kw: object) -> None:
        if event == "decided":
            functions = dict(repo.functions())
            curve.append(
                (server.cost_usd(world.PRICES) - base, world.expected_accuracy(functions, test_rows))
            )

    t0 = time.perf_counter()
    stopped = ""
    try:
        result = train(repo, run="bench", progress=progress)
        stopped = result.stopped
    except Exception as e:  # noqa: BLE001 - BudgetExhausted: the run ends where the budget does
        stopped = f"{type(e).__name__}: {e}"
    final = world.expected_accuracy(dict(repo.functions()), test_rows)
    curve.append((server.cost_usd(world.PRICES) - base, final))
    steps = len(curve) - 2
    print(
        f"{name}: {steps} steps in {time.perf_counter() - t0:.0f}s, ${curve[-1][0]:.3f} billed; stopped: {stopped}"
    )
    return curve


def dollars_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """The dollars billed when the head first reached `target` test accuracy."""
    for dollars, acc in curve:
        if acc >= target - 1e-9:
            return dollars
    return None


def mean_curve(
    curves: list[list[tuple[float, float]]], budget: float, grid: int = 200
) -> list[tuple[float, float]]:
    """The mean test accuracy of several runs at each of `grid` dollar amounts up to the budget."""
    out = []
    for i in range(grid + 1):
        dollars = budget * i / grid
        accs = [_at(c, dollars) for c in curves]
        out.append((dollars, sum(accs) / len(accs)))
    return out


def _at(curve: list[tuple[float, float]], dollars: float) -> float:
    """A run's head test accuracy once `dollars` were billed (the last step at or under them)."""
    acc = curve[0][1]
    for d, a in curve:
        if d <= dollars + 1e-12:
            acc = a
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--candidates", type=int, default=None, help="fnforge's k (default: the template's)")
    ap.add_argument("--backend", default="auto", choices=["auto", "docker", "process"])
    ap.add_argument("--max-steps", type=int, default=300, help="a bound on each run besides the budget")
    ap.add_argument("--worlds", type=int, default=12, help="worlds (task and training seeds) averaged over")
    ap.add_argument(
        "--set", action="append", default=[],
        help="another [training] value for fnforge: KEY=VALUE (TOML); llm.KEY=VALUE for [llm]",
    )
    ap.add_argument("--keep", type=Path, default=None, help="keep the repositories in this folder")
    ap.add_argument(
        "--only", choices=["paper", "fnforge"], default=None, help="run one loop (no RESULT line)"
    )
    args = ap.parse_args()
    template = Settings.model_validate(tomllib.loads(render_template()))  # what `fnforge init` writes
    k = template.training.candidates if args.candidates is None else args.candidates
    ours = {
        "candidates": str(k),
        "combine": str(template.training.combine).lower(),
        "validate_candidates": str(template.training.validate_candidates),
        "llm.optimizer_sources": f'"{template.llm.optimizer_sources}"',
        **dict(kv.split("=", 1) for kv in args.set),
    }
    curves: dict[str, list] = {"paper": [], "fnforge": []}
    for w in range(args.worlds):
        args.world_seed = w
        with tempfile.TemporaryDirectory() as tmp, LLMServer(world.World()) as server:
            where = (args.keep or Path(tmp)) / f"world-{w}"
            for name, training in (("paper", PAPER), ("fnforge", ours)):
                if args.only in (None, name):
                    curves[name].append(run_loop(name, server, args.budget, training, args, where))
    if args.only:
        return
    paper, fnforge = mean_curve(curves["paper"], args.budget), mean_curve(curves["fnforge"], args.budget)
    for name, curve in (("paper", paper), ("fnforge", fnforge)):
        points = ", ".join(f"${d:.2f}:{a:.3f}" for d, a in curve[::20])
        print(f"{name} mean test accuracy by dollars over {args.worlds} worlds: {points}")
    paper_final, ours_final = paper[-1][1], fnforge[-1][1]
    reach = dollars_to_reach(fnforge, paper_final)
    ratio = (reach / args.budget) if reach is not None else float("inf")
    print(f"fnforge (k = {k}) reached the paper loop's final mean test accuracy {paper_final:.3f} after ${reach} "
          "(baseline: the paper loop, same worlds, same budget)")  # fmt: skip
    print(
        f"RESULT budget_usd={args.budget:g} paper_test={paper_final:.3f} fnforge_test={ours_final:.3f} "
        f"dollars_to_paper_final={ratio:.3f}"
    )


if __name__ == "__main__":
    main()
