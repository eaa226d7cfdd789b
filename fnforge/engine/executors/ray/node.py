"""One Ray node's share of an evaluation: its sandbox pool and the chunks of tasks it runs.

The Ray executor places one `NodeRunner` actor on each node that has CPUs. It opens that
node's sandbox pool once (Docker when the node's engine answers, else the process backend
with the same warning as `[sandbox] backend = "auto"`), keeps the function sets it was sent
by their content hash (fetched from the object store once per node, a few kept), and runs a
chunk of tasks with the very code of a local run: a `LocalExecutor` over this node's pool,
whose agents reach the model through the driver's relay (`relay.py`).

A chunk comes back as compact outcomes plus its transcripts as ready-made JSON lines, which
the driver appends to the step's log. Sending them back (rather than writing on the node)
works on clusters without a shared filesystem and writes each transcript exactly once even
when a chunk is rerun after its node was lost.
"""

from __future__ import annotations

import asyncio
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fnforge.config import Settings
from fnforge.engine.executors.base import RolloutRequest, TaskOutcome
from fnforge.engine.executors.local import LocalExecutor
from fnforge.engine.llm import ChatModel
from fnforge.engine.transcripts import Transcript, TranscriptLog

KEPT_SETS = 8  # function sets a node keeps loaded


@dataclass
class ChunkResult:
    """What one chunk sends back: outcomes in task order, transcript lines, kept transcripts."""

    outcomes: list[TaskOutcome]
    lines: list[str] = field(default_factory=list)
    kept: list[Transcript] = field(default_factory=list)
    node: str = ""


class LineCollector:
    """A stand-in for the step's `TranscriptLog` on a worker: it formats the lines and keeps them."""

    path = None

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, transcript: Transcript, **context: Any) -> None:
        """Format one transcript exactly as the driver's log would and keep the line."""
        self.lines.append(TranscriptLog.line(transcript, **context))


class NodeRunner:
    """The actor on one node (made remote by the executor): a sandbox pool and chunk runs."""

    def __init__(self, settings: Settings, evaluator: Any, relay: Any, node: str):
        from fnforge.sandbox import WeakSandboxWarning, open_pool

        self.settings = settings
        self.evaluator = evaluator
        self.node = node
        self.warning = ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WeakSandboxWarning)
            self.pool = open_pool(settings.sandbox, settings.sandbox.pool)
        for w in caught:
            if issubclass(w.category, WeakSandboxWarning):
                self.warning = str(w.message)
        self.llm: ChatModel | None = None
        if settings.agent.mode != "direct":
            from fnforge.engine.executors.ray.relay import RelayedLLM

            self.llm = RelayedLLM(relay, settings.llm)
        self.sets: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._threads_set = False

    def ready(self) -> dict[str, str]:
        """The node's pool is up: which backend it runs and the warning, if any."""
        return {"node": self.node, "backend": self.pool.backend_name, "warning": self.warning}

    async def _functions(self, set_hash: str, shipped: list[Any]) -> dict[str, str]:
        functions = self.sets.get(set_hash)
        if functions is None:
            functions = dict(await shipped[0])  # the object store hands it to this node once
            self.sets[set_hash] = functions
            while len(self.sets) > KEPT_SETS:
                self.sets.popitem(last=False)
        self.sets.move_to_end(set_hash)
        return functions

    async def run_chunk(
        self, set_hash: str, shipped: list[Any], tasks: list[Any], split: str, keep: bool, repeats: int = 1
    ) -> ChunkResult:
        """Run and judge `tasks` with the set `set_hash` (shipped as `[ObjectRef]`), as a local run would."""
        if not self._threads_set:  # sandbox calls and judging wait in threads: enough of them
            threads = self.settings.training.concurrency * 2 + self.settings.sandbox.pool + 4
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=threads))
            self._threads_set = True
        functions = await self._functions(set_hash, shipped)
        collector = LineCollector()
        executor = LocalExecutor(self.settings, llm=self.llm, pool=self.pool, evaluator=self.evaluator)
        report = await executor.run(
            RolloutRequest(
                functions=functions,
                tasks=tasks,
                split=split,
                set_hash=set_hash,
                log=collector,  # type: ignore[arg-type]  # same write() as a TranscriptLog
                keep_transcripts=keep,
                repeats=repeats,
            )
        )
        return ChunkResult(outcomes=report.outcomes, lines=collector.lines, kept=report.kept, node=self.node)

    def close(self) -> None:
        """Remove this node's sandbox workers."""
        self.pool.close()
