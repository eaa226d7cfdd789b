"""Rollouts on a Ray cluster: the same agent, sandbox and verdicts as a local run, spread over nodes.

`[executor] kind = "ray"` swaps the `LocalExecutor` (`executors/local.py`) for this one; the scorer, the gates and
the store see the same compact outcomes. How a run is spread:

- one `NodeRunner` actor per node with CPUs, holding that node's sandbox pool (`node.py`);
- the function set is put in the object store once and fetched by each node once, by its
  content hash;
- the tasks are cut into chunks of `[executor] tasks_per_chunk`; each node gets at most two
  chunks at a time and the next as one finishes, so faster nodes take more; results stream
  back as chunks finish and progress is reported on the driver;
- agents reach the model through the driver's own client (`relay.py`): one cache, the
  key never leaves the driver;
- a node lost mid-evaluation (its actor dies) takes no score with it: its chunks are sent to
  another node, up to `MAX_CHUNK_RETRIES` times each. A rerun task asks the model the same
  requests, which the driver's cache now answers, so the score equals an undisturbed run's.

Ray is imported only in this package (`executors/ray/`), and this package only when
`kind = "ray"` (the `fnforge[ray]` extra).
"""

from __future__ import annotations

import asyncio
import os
import socket
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import (
    ActorDiedError,
    ActorUnavailableError,
    ObjectLostError,
    RayActorError,
    RayTaskError,
)
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from fnforge.config import Settings
from fnforge.engine.executors.base import Executor, RolloutReport, RolloutRequest, TaskOutcome
from fnforge.engine.executors.ray.node import ChunkResult, NodeRunner
from fnforge.engine.executors.ray.relay import Gateway, LLMRelay
from fnforge.engine.llm import ChatModel, LLMError, Usage
from fnforge.sandbox import SandboxUnavailable

MAX_CHUNK_RETRIES = 3  # times one chunk is sent again after the node running it was lost
CHUNKS_PER_NODE = 2  # chunks a node holds at once: one running, one ready to start
SHIPPED_SETS = 8  # function sets kept in the object store for reuse
LOST = (RayActorError, ActorDiedError, ActorUnavailableError, ObjectLostError)


class ClusterUnavailable(SandboxUnavailable):
    """The Ray cluster cannot be reached or has no node left to run sandboxes on.

    A kind of `SandboxUnavailable`, so a cluster lost mid-run ends `fnforge train` with its one
    line (naming `[executor] address`) like any sandbox that cannot run, never a traceback.
    """


def connect(address: str) -> bool:
    """Join the cluster at `address` ("auto" or "[ray://]host:port"); True when this call started Ray.

    A process already connected (a test's cluster) is used as it is. An address that does not
    answer fails at once with one line naming `[executor] address`, never after a long hang.
    """
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise ClusterUnavailable(
                f"[executor] address = {address!r}: no Ray cluster answers there ({exc}); "
                "start one (`ray start --head`) or fix the address in fnforge.toml"
            ) from None
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=True)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the one line
            raise ClusterUnavailable(
                f"[executor] address = {address!r}: could not join the Ray cluster ({exc})"
            ) from None
        return True
    try:  # "auto": the cluster this machine belongs to, else a fresh one on this machine
        ray.init(address="auto", include_dashboard=False)
    except ConnectionError:
        ray.init(include_dashboard=False)
    return True


@dataclass
class _Node:
    """A node's actor and the chunks it holds now."""

    node_id: str
    actor: Any
    backend: str = ""
    busy: int = 0


@dataclass
class _Chunk:
    """A slice of the request's tasks and how often it was sent."""

    index: int
    start: int
    stop: int
    attempts: int = 0
    nodes: list[str] = field(default_factory=list)


class RayExecutor(Executor):
    """Runs the rollouts of an evaluation on a Ray cluster, one sandbox pool per node."""

    kind = "ray"

    def __init__(
        self, settings: Settings, *, llm: ChatModel | None, evaluator: Any, address: str | None = None
    ):
        self.settings = settings
        self.llm = llm
        self.evaluator = evaluator
        self.address = address or settings.executor.address
        self.chunk_size = settings.executor.tasks_per_chunk
        self._started_ray = connect(self.address)
        self._here = ray.get_runtime_context().get_node_id()
        self._relay = (
            ray.remote(LLMRelay)
            .options(
                num_cpus=0,
                max_concurrency=100_000,
                scheduling_strategy=NodeAffinitySchedulingStrategy(self._here, soft=False),
            )
            .remote()
        )
        ray.get(self._relay.ping.remote())
        model_agent = llm is not None and settings.agent.mode != "direct"
        self._gateway = Gateway(self._relay, llm) if model_agent else None
        self._evaluator_ref = ray.put(evaluator)
        self._nodes: dict[str, _Node] = {}
        self._sets: OrderedDict[str, Any] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.rerun_chunks = 0  # chunks sent again after their node was lost, over the executor's life
        self.warnings: list[str] = []
        self.refresh_nodes()
        if not self._nodes:
            raise ClusterUnavailable(
                f"[executor] address = {self.address!r}: the Ray cluster has no node with CPUs to run on"
            )

    # ------------------------------------------------------------ nodes

    def refresh_nodes(self) -> None:
        """An actor with a sandbox pool on every live node with CPUs that has none yet."""
        alive = {
            n["NodeID"]
            for n in ray.nodes()
            if n.get("Alive") and float((n.get("Resources") or {}).get("CPU", 0)) > 0
        }
        for gone in set(self._nodes) - alive:
            del self._nodes[gone]
        fresh = []
        for node_id in sorted(alive - set(self._nodes)):
            actor = (
                ray.remote(NodeRunner)
                .options(
                    num_cpus=0,
                    max_concurrency=CHUNKS_PER_NODE + 2,
                    max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                )
                .remote(self.settings, self._evaluator_ref, self._relay, node_id)
            )
            fresh.append(_Node(node_id, actor))
        for node in fresh:
            try:
                info = ray.get(node.actor.ready.remote(), timeout=180)
            except LOST:
                continue  # gone while starting: the others run the work
            except RayTaskError as exc:  # the pool could not start there (e.g. backend = "docker")
                raise ClusterUnavailable(
                    f"the sandbox pool on Ray node {node.node_id[:12]} did not start: {exc.cause}"
                ) from None
            node.backend = info["backend"]
            if info["warning"]:
                from fnforge.sandbox import WeakSandboxWarning

                message = f"Ray node {node.node_id[:12]}: {info['warning']}"
                self.warnings.append(message)
                warnings.warn(message, WeakSandboxWarning, stacklevel=2)
            self._nodes[node.node_id] = node

    @property
    def nodes(self) -> int:
        """How many nodes run sandbox pools now."""
        return len(self._nodes)

    def _ship(self, set_hash: str, functions: Any) -> Any:
        ref = self._sets.get(set_hash)
        if ref is None:
            ref = self._sets[set_hash] = ray.put(dict(functions))
            while len(self._sets) > SHIPPED_SETS:
                self._sets.popitem(last=False)
        self._sets.move_to_end(set_hash)
        return ref

    # ------------------------------------------------------------ run

    async def run(self, request: RolloutRequest) -> RolloutReport:
        """Hand the tasks out to the nodes in chunks, rerun a lost node's chunks elsewhere."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.refresh_nodes)  # nodes that joined since; drop the dead
        if self._gateway is not None:
            self._gateway.failure = None
            self._gateway.ensure_running()
        before = self.llm.usage.copy() if self.llm is not None else Usage()
        tasks = request.tasks
        total = len(tasks) * max(1, request.repeats)
        shipped = [self._ship(request.set_hash, request.functions)]
        waiting = [
            _Chunk(i, start, min(start + self.chunk_size, len(tasks)))
            for i, start in enumerate(range(0, len(tasks), self.chunk_size))
        ]
        waiting.reverse()  # pop() hands out chunks in task order
        results: dict[int, list[TaskOutcome]] = {}
        kept: list[Any] = []
        running: dict[asyncio.Future, tuple[_Chunk, _Node, Any]] = {}
        done = 0
        try:
            while waiting or running:
                self._hand_out(waiting, running, request, tasks, shipped)
                if not running:
                    raise ClusterUnavailable(
                        f"[executor] address = {self.address!r}: no Ray node is left to run the evaluation"
                    )
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for fut in finished:
                    chunk, node, _ref = running.pop(fut)
                    node.busy -= 1
                    try:
                        out: ChunkResult = fut.result()
                    except LOST:
                        self._lost(node, chunk, waiting)
                        continue
                    except RayTaskError as exc:
                        raise self._setup_failure(exc) from None
                    results[chunk.index] = out.outcomes
                    if request.log is not None:
                        request.log.write_lines(out.lines)
                    kept.extend(out.kept)
                    done += len(out.outcomes)
                    if request.on_done is not None:
                        request.on_done(done, total)
        finally:
            for _chunk, node, ref in running.values():
                ray.cancel(ref)
                node.busy = max(0, node.busy - 1)
            if running and self._gateway is not None:
                self._relay.fail_all.remote("the evaluation was abandoned")
        outcomes = [o for i in sorted(results) for o in results[i]]
        usage = (self.llm.usage - before) if self.llm is not None else Usage()
        return RolloutReport(
            outcomes=outcomes,
            usage=usage,
            transcripts=request.log.path if request.log is not None else None,
            kept=kept if request.keep_transcripts else [],
        )

    def _hand_out(
        self,
        waiting: list[_Chunk],
        running: dict[asyncio.Future, tuple[_Chunk, _Node, Any]],
        request: RolloutRequest,
        tasks: Any,
        shipped: list[Any],
    ) -> None:
        while waiting:
            free = [n for n in self._nodes.values() if n.busy < CHUNKS_PER_NODE]
            if not free:
                return
            node = min(free, key=lambda n: (n.busy, n.node_id))
            chunk = waiting.pop()
            chunk.attempts += 1
            chunk.nodes.append(node.node_id)
            ref = node.actor.run_chunk.remote(
                request.set_hash,
                shipped,
                list(tasks[chunk.start : chunk.stop]),
                request.split,
                request.keep_transcripts,
                request.repeats,
            )
            node.busy += 1
            running[asyncio.wrap_future(ref.future())] = (chunk, node, ref)

    def _lost(self, node: _Node, chunk: _Chunk, waiting: list[_Chunk]) -> None:
        """A node (or its actor) died under a chunk: drop the node, send the chunk elsewhere."""
        self._nodes.pop(node.node_id, None)
        if chunk.attempts > MAX_CHUNK_RETRIES:
            raise ClusterUnavailable(
                f"tasks {chunk.start}..{chunk.stop - 1} were lost with their Ray node "
                f"{chunk.attempts} times; the cluster at [executor] address = {self.address!r} is failing"
            )
        self.rerun_chunks += 1
        waiting.append(chunk)

    def _setup_failure(self, exc: RayTaskError) -> BaseException:
        """The error to raise for a chunk that failed as a whole (the model's setup, or a bug)."""
        if self._gateway is not None and self._gateway.failure is not None:
            return self._gateway.failure  # the very LLMError the driver's client raised
        cause = getattr(exc, "cause", None)
        if isinstance(cause, LLMError):
            return cause
        return RuntimeError(f"a Ray worker failed: {cause or exc}")

    def close(self) -> None:
        """Stop serving the relay, remove the nodes' sandbox workers, leave the cluster we joined."""
        if self._gateway is not None:
            self._gateway.stop(self._loop)
        if not ray.is_initialized():
            return
        try:
            ray.get([n.actor.close.remote() for n in self._nodes.values()], timeout=60)
        except Exception:  # noqa: BLE001 - a node may be gone already; its pool went with it
            pass
        for n in self._nodes.values():
            ray.kill(n.actor)
        ray.kill(self._relay)
        self._nodes.clear()
        if self._started_ray:
            ray.shutdown()
