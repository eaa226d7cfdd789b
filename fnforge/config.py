"""fnforge.toml <-> typed settings.

The experiment file is the one place a user describes a run: task, data, models, agent,
training and sandbox limits. It is read with the standard library's TOML parser and
validated by pydantic, so a wrong value becomes one clear line that names the file, the
key and a valid example instead of a traceback deep inside a run.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_NAME = "fnforge.toml"
TEMPLATE_PATH = Path(__file__).parent / "templates" / "fnforge.toml"
IMAGE_ENV = "FNFORGE_SANDBOX_IMAGE"  # the sandbox image when fnforge.toml names none (tests, CI)

_EXAMPLES = {
    "task.name": 'name = "gsm8k"',
    "llm.temperature": "temperature = 0.0",
    "llm.optimizer_max_tokens": "optimizer_max_tokens = 8192",
    "llm.context_tokens": "context_tokens = 128000",
    "llm.optimizer_context_tokens": "optimizer_context_tokens = 128000",
    "llm.max_wait_s": "max_wait_s = 300",
    "llm.optimizer_protocol": 'optimizer_protocol = "auto"',
    "agent.mode": 'mode = "tools"',
    "sandbox.backend": 'backend = "auto"',
    "sandbox.memory_mb": "memory_mb = 256",
    "sandbox.property_budget_s": "property_budget_s = 30",
    "training.accept": 'accept = "significant"',
    "training.alpha": "alpha = 0.05",
    "training.validation": 'validation = "sequential"',
    "training.candidates": "candidates = 1",
    "budget.usd": "usd = 5.0",
    "budget.tokens": "tokens = 2000000",
    "budget.requests": "requests = 5000",
    "tracking.mlflow": 'mlflow = "sqlite:///.git/fnforge/mlflow.db"',
}


class ConfigError(ValueError):
    """A fnforge.toml that cannot be used; the message names file, key and a valid example."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSettings(_Section):
    """Which evaluator judges the agent: a built-in task or `custom:module:function`."""

    name: str = "gsm8k"

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v in {"gsm8k", "tabmwp", "math"} or (v.startswith("custom:") and v.count(":") == 2):
            return v
        raise ValueError(f"unknown task {v!r}; use gsm8k, tabmwp, math or custom:module:function")


class DataSettings(_Section):
    """Where the training and validation tasks are, relative to the repository."""

    train: str = "data/train.jsonl"
    val: str = "data/val.jsonl"
    test: str = ""  # sealed: scored only by `fnforge eval --split test`, never for a decision
    # score a fixed seeded sample of this many validation tasks (the first N of `validation_order`); 0 = all
    val_sample: int = Field(0, ge=0)
    # a run starts when a file's bad rows (not JSON, missing a field, a repeated id) are at most this
    # share of its rows (they are skipped and listed by line); above it, it refuses and names them
    max_bad_share: float = Field(0.001, ge=0.0, le=1.0)


class LLMSettings(_Section):
    """An OpenAI-compatible endpoint. The API key comes from the environment only."""

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4o-mini"
    optimizer_model: str = "gpt-4o"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    seed: int = 0
    max_tokens: int = Field(1024, gt=0)  # the agent's reply limit
    # the optimizer writes whole modules: its own reply limit, sampling temperature, and the
    # context windows (prompt + reply, in tokens) of both models, which the prompt is fitted to
    optimizer_max_tokens: int = Field(8192, ge=256)
    optimizer_temperature: float = Field(0.0, ge=0.0, le=2.0)
    context_tokens: int = Field(128000, ge=1024)
    optimizer_context_tokens: int = Field(128000, ge=1024)
    max_wait_s: float = Field(300.0, ge=0)  # longest wait for a rate limit before the run pauses
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(4, ge=0)
    concurrency: int = Field(8, gt=0)
    # USD per million tokens, by model name: {"gpt-4o" = {input = 2.5, output = 10.0}}
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    # scripted edits file replayed in place of the optimizer LLM (the demo); empty = use the LLM
    scripted_edits: str = ""
    # how the optimizer is asked for its edits: as tool calls, as one JSON list in a fenced block
    # of its reply (for servers or models without tool calling), or tools first and json after a
    # reply with text but no tool call
    optimizer_protocol: Literal["tools", "json", "auto"] = "tools"
    # which functions the optimizer prompt shows whole: all, or only those involved in the failures
    # it shows (the others as signature and docstring); see engine/optimizer_prompt.py
    optimizer_sources: Literal["all", "involved"] = "all"


class AgentSettings(_Section):
    """How the agent uses the function set: native tools, a ReAct text loop, or direct calls."""

    mode: Literal["tools", "react", "direct"] = "tools"
    max_turns: int = Field(8, gt=0)
    entry: str = "solve"  # the function the evaluator calls in direct mode
    result_budget_chars: int = Field(2000, gt=0)


class TrainingSettings(_Section):
    """The step/epoch loop: batch size, actions per step, acceptance margin, early stop."""

    epochs: int = Field(3, gt=0)
    batch_size: int = Field(16, gt=0)
    max_actions: int = Field(3, gt=0)
    min_delta: float = Field(0.0, ge=0.0)
    patience: int = Field(3, gt=0)
    max_steps: int = Field(30, gt=0)
    concurrency: int = Field(8, gt=0)
    seed: int = 0
    optimizer_retries: int = Field(2, ge=0)
    branch: str = "main"
    accept: Literal["improves", "significant"] = "significant"
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    repeats: int = Field(1, gt=0)
    precheck: bool = True
    solved_batch: Literal["recent", "skip", "ask"] = "recent"
    review: Literal["auto", "human"] = "auto"  # human: candidates that pass every gate wait for a person
    review_queue: int = Field(3, gt=0)  # with review = "human": train stops once this many wait
    # sequential: score the candidate in chunks of the seeded validation order and stop once the
    # decision is known (engine/sequential.py); full: every validation task, as the seed paper
    validation: Literal["sequential", "full"] = "sequential"
    validation_chunk: int = Field(40, gt=0)  # tasks per look (more when the set needs over 20 looks)
    validation_futility: float = Field(0.08, ge=0.0, lt=1.0)  # stop below this predictive power
    candidates: int = Field(1, ge=1, le=16)  # proposals asked of the optimizer per step
    combine: bool = False  # also validate, as one candidate, the proposals that each fix batch tasks
    validate_candidates: int = Field(1, ge=1, le=16)  # validate the next best after a rejection, up to this many


class BudgetSettings(_Section):
    """What a run may spend in all (0 = no limit); `fnforge train --budget-*` overrides it for one call."""

    usd: float = Field(0.0, ge=0.0)  # dollars at [llm] prices: needs a price for both models
    tokens: int = Field(0, ge=0)  # input + output tokens of every request sent
    requests: int = Field(0, ge=0)  # requests sent (a request and its retries count once)


class SandboxSettings(_Section):
    """Where untrusted functions run and the limits they run under."""

    backend: Literal["auto", "docker", "process"] = "auto"
    image: str = Field(default_factory=lambda: os.environ.get(IMAGE_ENV) or "fnforge-sandbox:latest")
    timeout_s: float = Field(5.0, gt=0)
    memory_mb: int = Field(256, ge=32)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(64, ge=8)
    tmpfs_mb: int = Field(16, ge=1)
    pool: int = Field(4, gt=0)
    output_limit_bytes: int = Field(65536, gt=0)
    property_examples: int = Field(30, gt=0)
    property_budget_s: float = Field(30.0, gt=0)
    property_budget_per_function_s: float = Field(10.0, ge=0)


class ExecutorSettings(_Section):
    """Where rollouts run: this machine (`local`) or a Ray cluster (`ray`, the `fnforge[ray]` extra)."""

    kind: Literal["local", "ray"] = "local"
    address: str = "auto"  # Ray: "auto" (a running local cluster, else start one) or "ray://host:port"
    tasks_per_chunk: int = Field(64, gt=0)


class ServeSettings(_Section):
    """`fnforge serve`: how many tool calls may wait for a sandbox worker before callers hear "busy"."""

    queue: int = Field(16, ge=0)


class TrackingSettings(_Section):
    """Where each run's figures go besides git: an MLflow tracking URI (the `fnforge[mlflow]` extra)."""

    # "" = off; sqlite:///path/mlflow.db (relative to the repository), sqlite:////abs/path.db,
    # or a tracking server's http(s) URL
    mlflow: str = ""
    experiment: str = ""  # the MLflow experiment; "" = "fnforge/<repository folder name>"


class Settings(_Section):
    """The whole experiment file."""

    task: TaskSettings = TaskSettings()
    data: DataSettings = DataSettings()
    llm: LLMSettings = LLMSettings()
    agent: AgentSettings = AgentSettings()
    training: TrainingSettings = TrainingSettings()
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)  # reads the image env when made
    executor: ExecutorSettings = ExecutorSettings()
    serve: ServeSettings = ServeSettings()
    tracking: TrackingSettings = TrackingSettings()
    budget: BudgetSettings = BudgetSettings()

    @model_validator(mode="after")
    def _candidates_need_sampling(self) -> Settings:
        if (
            self.training.candidates > 1
            and self.llm.optimizer_temperature == 0
            and not self.llm.scripted_edits
        ):
            raise ValueError(
                f"[training] candidates = {self.training.candidates} needs [llm] optimizer_temperature > 0 "
                "(at temperature 0 every proposal is the same); write e.g. optimizer_temperature = 0.7, "
                "or candidates = 1"
            )
        return self


def load_settings(path: Path) -> Settings:
    """Read and validate an experiment file; raise ConfigError with a fix on bad input."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; run `fnforge init` to write one") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        if not err["loc"]:  # a rule across sections: its message names the settings and the fix
            raise ConfigError(f"{path}: {err['msg'].removeprefix('Value error, ')}") from None
        key = ".".join(str(p) for p in err["loc"])
        example = _EXAMPLES.get(key, "see the comments that `fnforge init` writes")
        got = err.get("input")
        raise ConfigError(
            f"{path}: [{key.rsplit('.', 1)[0]}] {key.rsplit('.', 1)[-1]} = {got!r}: {err['msg']}; "
            f"write e.g. {example}"
        ) from None


def unpriced_budget(settings: Settings, usd: float | None = None) -> str | None:
    """Why a dollar budget cannot be kept (a model has no price), or None.

    `usd` overrides `[budget] usd` (the `--budget-usd` of one call).
    """
    budget = settings.budget.usd if usd is None else usd
    if not budget:
        return None
    models = [settings.llm.model] if settings.agent.mode != "direct" else []
    if not settings.llm.scripted_edits:
        models.append(settings.llm.optimizer_model)
    prices = settings.llm.prices
    missing = [m for m in dict.fromkeys(models) if not {"input", "output"} <= set(prices.get(m) or {})]
    if not missing:
        return None
    return (
        f"a budget of ${budget:g} cannot be kept: [llm] prices has no input and output price for "
        f'{", ".join(missing)}; add e.g. prices = {{ "{missing[0]}" = {{ input = 2.5, output = 10.0 }} }} '
        "(USD per million tokens), or budget in tokens or requests instead"
    )


def render_template(task: str = "gsm8k") -> str:
    """The commented fnforge.toml that `fnforge init` writes, with the task filled in."""
    return TEMPLATE_PATH.read_text(encoding="utf-8").replace("{task}", task)
