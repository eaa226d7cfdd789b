"""What learning the window and the optimizer protocols cost in requests and tokens against a small server.

A server whose optimizer model has a 6,000-token window (tests/real_model.py: it refuses a
prompt plus reply past the window in OpenAI's words, and counts tokens as its own `usage`
does) and a repository left at the default 128,000. Ten optimizer steps of one run, each with
a context like a real step's (functions, history, failed transcripts):

- *learned* (fnforge now): the first request is refused, states the window, and every later
  prompt is fitted to it;
- *baseline* (the same client with learning switched off, as before): every step is refused
  once, then asks again at half the estimated prompt.

Then the three protocols against a model that answers in prose (as small local models do):
`tools` and `json` cost one request a step, `auto` two (the json ask after the prose).

Requests and tokens are the server's own counts (refused prompts count the tokens the server
had to read). The last line: `RESULT learned_requests=<n> baseline_requests=<n> ratio=<x> ...`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "tests"),
    str(Path(__file__).resolve().parents[1] / "tests" / "engine"),
]

import gsm8k_world as world  # noqa: E402
from llm_server import LLMServer, text, tool_calls  # noqa: E402
from real_model import RealModel, count_tokens  # noqa: E402

from fnforge.config import LLMSettings, Settings, TrainingSettings  # noqa: E402
from fnforge.engine.llm import LLMClient  # noqa: E402
from fnforge.engine.optimizer import LLMOptimizer, OptimizerContext, StepSummary  # noqa: E402
from fnforge.engine.transcripts import Transcript  # noqa: E402

WINDOW = 6000
STEPS = 10
EDIT = {"name": "describe_number", "description": "Format a number.", "code": world.DESCRIBE}


def context(position: int) -> OptimizerContext:
    """A step of a long run: a large module, 20 earlier steps, 4 failed transcripts."""
    failures = []
    for i in range(4):
        tr = Transcript(task_id=str(i), mode="tools", output="I think 12.", correct=False, reference="10")
        tr.add("task", text="A long word problem about clips, hours and wages. " * 20)
        tr.add("assistant", content="Let me think about it step by step. " * 30)
        failures.append(tr)
    history = [
        StepSummary(s, "rejected", "validation", "no improvement: 0.400 -> 0.400", 0.4, 0.4, [f"add f{s}"])
        for s in range(1, 21)
    ]
    return OptimizerContext(
        position=position,
        task_name="gsm8k",
        task_example="Natalia sold clips to 48 of her friends in April ...",
        functions={"calculate": world.CALCULATE + ("\n# notes kept with the code\n" * 200)},
        history=history,
        transcripts=failures,
        train_score=0.0,
    )


def settings(base_url: str, protocol: str = "tools") -> Settings:
    llm = LLMSettings(
        base_url=base_url,
        optimizer_model="optimizer",
        api_key_env="FNFORGE_BENCH_KEY",
        optimizer_protocol=protocol,
    )
    return Settings(llm=llm, training=TrainingSettings(max_actions=1, optimizer_retries=1))


def served(server: LLMServer) -> tuple[int, int]:
    """Requests and prompt tokens the server read (its own count, refused prompts included)."""
    tokens = sum(
        count_tokens(json.dumps(r.get("messages", []))) + count_tokens(json.dumps(r.get("tools") or []))
        for r in server.requests
    )
    return len(server.requests), tokens


def run_steps(script, protocol: str, learn: bool) -> tuple[int, int, int]:
    """Ten steps of one optimizer; (requests, prompt tokens read, refusals)."""
    model = RealModel(script, context_tokens={"optimizer": WINDOW})
    with LLMServer(model) as server:
        s = settings(server.base_url, protocol)
        client = LLMClient(s.llm, None)
        if not learn:
            client.learn_window = lambda model, tokens: None  # the behaviour before windows were learned
        optimizer = LLMOptimizer(client, s)

        async def steps() -> None:
            for i in range(STEPS):
                await optimizer.propose(context(i))
            await client.close()

        asyncio.run(steps())
        requests, tokens = served(server)
    return requests, tokens, len(model.refusals)


def main() -> None:
    def edits(body: dict):
        if body.get("tools"):
            return tool_calls(("add_function", EDIT))
        return text("```json\n" + json.dumps([{**EDIT, "action": "add_function"}]) + "\n```")

    learned = run_steps(edits, "tools", learn=True)
    baseline = run_steps(edits, "tools", learn=False)
    for name, (requests, tokens, refusals) in (("learned", learned), ("baseline", baseline)):
        print(f"{name:9s}: {requests:3d} requests, {refusals:3d} refused, {tokens:7d} prompt tokens read")

    def prose(body: dict):
        if body.get("tools"):
            return text("These functions look fine; the agent should think harder.")
        return text("```json\n[]\n```")

    per_protocol = {}
    for protocol in ("tools", "json", "auto"):
        requests, tokens, _ = run_steps(prose, protocol, learn=True)
        per_protocol[protocol] = requests
        print(f"prose model, protocol {protocol:5s}: {requests:3d} requests, {tokens:7d} prompt tokens read")
    ratio = baseline[0] / learned[0]
    print(
        f"RESULT learned_requests={learned[0]} baseline_requests={baseline[0]} ratio={ratio:.2f} "
        f"learned_tokens={learned[1]} baseline_tokens={baseline[1]} "
        f"auto_requests={per_protocol['auto']} tools_requests={per_protocol['tools']}"
    )


if __name__ == "__main__":
    main()
