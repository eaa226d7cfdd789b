"""The engine: trains an agent's function set with the seed paper's AgentOptimizer loop.

It sits on top of the other three parts (function_repo, sandbox, evaluators) and is the
only part that talks to language models (only the `llm` package imports `openai`, only
`executors/ray/` imports `ray`). What it holds, one job a module:

- the loop: `trainer` (steps until a stop condition, resumable from git), `run_records`
  (where a run stands: steps, patience), `schedule` (the seeded batches), `step_gates`
  (a step's gates, cheapest first), `step_notes` (what a step records and the optimizer
  reads back), `replay` (an offline rerun of a finished run, compared step by step),
  `review_replay` (a person's review decisions, made again where they were made),
  `run_state` (the step in flight, as a small file), `run_observer` (what watches a run
  from inside: that file and the experiment tracker) and `outcomes` (what a step and a run
  return);
- spend: `ledger` (every request's worst case reserved against `[budget]`), `run_budget` (a
  run's ledger and saved estimate), `estimate` (a run priced before it starts);
- several candidates a step: `candidates` (k proposals made candidates) and `step_candidates`
  (each gated, the best by pre-check validated, the others kept);
- the optimizer: `optimizer` (proposals from a model or a reviewed script),
  `optimizer_protocol` (how its edits are asked for and read: tool calls or JSON in text),
  `optimizer_prompt` (its prompt within a token budget), `prompt_files` and `prompts/`
  (the templates), `tokens` (offline token counts);
- judging a candidate: `acceptance` (the rules, pure functions), `precheck` (the cheap look
  first), `validation` (better than the head on validation), `sequential` and `sequential_walk` (the
  stopping rule and its walk along the order) and `validation_order` (the one
  seeded order of validation tasks);
- running the agent: `agent`, `agent_base` and `react` (the three modes), `toolbox` (a set
  as sandboxed tools), `evaluation` (the `Scorer`), `executors/` (where rollouts run: local
  or Ray), `transcripts` (what the agent did), `llm/` (the model client and its cache);
- around them: `experiment` (an opened experiment: settings, tasks, pool, client, scorer),
  `data_sources` (the splits opened lazily, bad rows counted, a validation sample),
  `splits` (no task in two splits), `transfer` (scores where a set was not trained) and
  `background` (the event loop synchronous code awaits on).

The names other parts import lazily from here are `__all__`:

    from fnforge.engine import train, Experiment, LLMClient, Scorer, choose_executor, ...

Modules are imported on first use so that `import fnforge.engine` stays cheap for the CLI.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "train": "trainer",
    "Trainer": "trainer",
    "TrainingResult": "trainer",
    "TrainingError": "trainer",
    "Experiment": "experiment",
    "ExperimentError": "experiment",
    "LLMClient": "llm",
    "LLMError": "llm",
    "LLMCacheMiss": "llm",
    "Usage": "llm",
    "ValidationGate": "validation",
    "SkippedValidation": "validation",
    "validation_for_apply": "validation",
    "make_agent": "agent",
    "Transcript": "transcripts",
    "LLMOptimizer": "optimizer",
    "ScriptedProposer": "optimizer",
    "Scorer": "evaluation",
    "Executor": "executors.base",
    "LocalExecutor": "executors.local",
    "TaskOutcome": "executors.base",
    "choose_executor": "experiment",
    "ChatModel": "llm",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"fnforge.engine.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'fnforge.engine' has no attribute {name!r}")
