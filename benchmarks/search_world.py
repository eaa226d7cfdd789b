"""A simulated world for `search_efficiency.py`: tasks in hidden kinds and the two models that work on them.

Tasks are GSM8K-format questions, each of one hidden *kind* (`KINDS` of them); the kind is
written in the question ("[kind k07] ...") and nowhere else. Only the two models are
simulated, each as a script of the local OpenAI-compatible server (`tests/llm_server.py`),
reached through the real `openai` client; everything between them is fnforge's own code.

* The **agent model** answers a task in one turn. It is right with probability `P_SOLVED`
  when the tools it is offered include a good function for the task's kind and no offered
  function breaks that kind, else with probability `P_UNSOLVED`. The draw is keyed by the
  request (task and offered tools) and the seed, so a cached or replayed request gets the
  same answer, and head and candidate sets (different tools) draw apart, as a sampled model does.
* The **optimizer model** reads the failures in its prompt, picks one of their kinds (a draw
  keyed by the prompt, the request's seed and which of the `n` choices it is writing), and
  adds or revises `solve_<kind>`: good with probability `P_GOOD`; with probability `P_BREAK`
  the new function also breaks another kind. Its reply carries a full module of about
  `REPLY_TOKENS` tokens, as a real optimizer's does; its prompt is fnforge's real prompt.

What makes a function good or harmful is written in its docstring (`variant good|weak`,
`also handles kind kNN`), which the agent model reads from the tool description; the
optimizer's choices are not informed by it. `expected_accuracy` gives a set's exact expected
accuracy on a list of tasks, the benchmark's test score.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from llm_server import Reply, last_user_text, text, tool_calls  # noqa: E402

AGENT_MODEL = "sim-agent"
OPTIMIZER_MODEL = "sim-optimizer"
KINDS = 12
PER_KIND = 50  # 600 tasks: 200 train, 200 validation, 200 test
P_SOLVED = 0.95
P_UNSOLVED = 0.05
P_GOOD = 0.35
P_BREAK = 0.25
REPLY_TOKENS = 1200
PRICES = {AGENT_MODEL: {"input": 0.15, "output": 0.6}, OPTIMIZER_MODEL: {"input": 2.5, "output": 10.0}}

_KIND = re.compile(r"\[kind (k\d\d)\]")
_FUNCTION = re.compile(r"## functions/(solve_k\d\d)\.py")


def draw(*parts: Any) -> float:
    """A uniform number in [0, 1) fixed by its inputs."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def make_tasks(seed: int = 0) -> list[dict[str, Any]]:
    """KINDS x PER_KIND tasks in GSM8K's format, shuffled so every split holds every kind."""
    rng = random.Random(seed)
    tasks = []
    for k in range(KINDS):
        for i in range(PER_KIND):
            a, b = rng.randint(2, 90), rng.randint(2, 90)
            q = f"[kind k{k:02d}] A crate holds {a} boxes of {b} parts. How many parts is that? (case {i})"
            tasks.append(
                {"id": f"k{k:02d}-{i}", "question": q, "answer": f"{a} * {b} = {a * b}\n#### {a * b}"}
            )
    rng.shuffle(tasks)
    return tasks


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """One split as JSONL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def traits(description: str) -> tuple[str | None, bool, str | None]:
    """(kind handled, good?, kind broken) as a function's description tells them."""
    handled = re.search(r"Handles kind (k\d\d)", description)
    broken = re.search(r"also handles kind (k\d\d)", description)
    return (
        handled.group(1) if handled else None,
        "variant good" in description,
        broken.group(1) if broken else None,
    )


def solve_chance(kind: str, descriptions: list[str]) -> float:
    """The agent's chance on a task of `kind` with tools of these descriptions."""
    found = [traits(d) for d in descriptions]
    if any(b == kind for _, _, b in found):
        return P_UNSOLVED
    if any(h == kind and good for h, good, _ in found):
        return P_SOLVED
    return P_UNSOLVED


def expected_accuracy(functions: dict[str, str], tasks: list[dict[str, Any]]) -> float:
    """The exact expected accuracy of a set (its docstrings) on tasks."""
    docs = [re.search(r'"""(.*?)"""', src.split("def ", 1)[-1], re.S) for src in functions.values()]
    descriptions = [d.group(1) for d in docs if d]
    chances = [solve_chance(_KIND.search(t["question"]).group(1), descriptions) for t in tasks]
    return sum(chances) / len(chances)


def agent(body: dict[str, Any]) -> Reply:
    """The agent model: answer right or wrong (see the module docstring)."""
    question = last_user_text(body)
    kind = _KIND.search(question)
    answer = re.search(r"holds (\d+) boxes of (\d+)", question)
    if kind is None or answer is None:
        return text("I cannot tell what is asked.")
    descriptions = [t["function"].get("description", "") for t in body.get("tools") or []]
    chance = solve_chance(kind.group(1), descriptions)
    right = int(answer.group(1)) * int(answer.group(2))
    u = draw(
        "agent",
        question,
        [t["function"]["name"] for t in body.get("tools") or []],
        descriptions,
        body.get("seed"),
    )
    return text(
        f"Multiplying, the total is {right if u < chance else right + 1}. The answer is {right if u < chance else right + 1}."
    )


def module(name: str, kind: str, good: bool, breaks: str | None) -> str:
    """A full module for `solve_<kind>`, padded with comments to about REPLY_TOKENS tokens."""
    doc = f"Handles kind {kind} problems (variant {'good' if good else 'weak'})."
    if breaks:
        doc += f" It also handles kind {breaks} the same way."
    pad = "\n".join(
        f"# step {i}: multiply the boxes by the parts per box and check the units."
        for i in range(REPLY_TOKENS * 3 // 80)
    )
    return (
        f'"""The {kind} solver."""\n\nPACKAGES = []\n\n{pad}\n\n\n'
        f"def {name}(boxes: int, parts: int) -> int:\n"
        f'    """{doc}\n\n    Args:\n        boxes: how many boxes.\n        parts: parts in each box.\n    """\n'
        f"    return boxes * parts\n"
    )


class Optimizer:
    """The optimizer model; counts the choices it wrote per request so `n` choices differ."""

    def __init__(self) -> None:
        self.choice: dict[str, int] = {}

    def __call__(self, body: dict[str, Any]) -> Reply:
        prompt = "\n".join(
            m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"
        )
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        index = self.choice[key] = self.choice.get(key, -1) + 1
        failures = prompt.split("## Failures", 1)[-1].split("## Successes", 1)[0]
        kinds = sorted(set(_KIND.findall(failures)))
        if not kinds:
            return tool_calls(("no_change", {"reason": "no failure shown"}))
        u = [draw("optimizer", key, index, i) for i in range(4)]
        kind = kinds[int(u[0] * len(kinds))]
        good = u[1] < P_GOOD
        others = [f"k{k:02d}" for k in range(KINDS) if f"k{k:02d}" != kind]
        breaks = others[int(u[3] * len(others))] if u[2] < P_BREAK else None
        name = f"solve_{kind}"
        action = "revise_function" if name in _FUNCTION.findall(prompt) else "add_function"
        args = {"name": name, "description": f"Solve kind {kind}.", "code": module(name, kind, good, breaks)}
        return tool_calls((action, args))


class World:
    """Both scripts behind one server: requests are routed by model name."""

    def __init__(self) -> None:
        self.optimizer = Optimizer()

    def __call__(self, body: dict[str, Any]) -> Reply:
        if body.get("model") == OPTIMIZER_MODEL:
            return self.optimizer(body)
        return agent(body)
