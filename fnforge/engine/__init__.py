"""The engine: trains an agent's function set with the seed paper's AgentOptimizer loop.

It sits on top of the other three parts (function_repo, sandbox, evaluators) and is the
only part that talks to language models (through `llm.LLMClient`; only the `llm` package
imports `openai`). The public surface:

    from fnforge.engine import (train, Trainer, TrainingResult, TrainingError, Experiment,
        LLMClient, LLMError, LLMCacheMiss, ValidationGate, validation_for_apply,
        make_agent, Transcript, LLMOptimizer, ScriptedProposer)

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
