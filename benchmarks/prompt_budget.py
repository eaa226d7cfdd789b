"""Does the optimizer prompt fit the model's context window, however large the set and history grow?

Builds optimizer contexts for sets of 5, 50 and 200 functions (each module 2-5 KB of real-looking
code with a docstring, like the ones an LLM writes), a history of 200 earlier steps and 16
transcripts of long failed tasks, then renders the prompt twice: unbudgeted (the baseline: every
source, the history, the sampled transcripts, as before the budget existed) and fitted to the
budget of the default settings (`optimizer_context_tokens` minus `optimizer_max_tokens`, the tool
schemas and a re-ask). Tokens are the engine's own offline estimate (3 bytes a token, conservative).

The last line: `RESULT functions=200 prompt_tokens=<n> budget=<n> within=<true|false>`.
"""

from __future__ import annotations

import time

from fnforge.config import Settings
from fnforge.engine.optimizer import OPTIMIZER_TOOLS, OptimizerContext, StepSummary
from fnforge.engine.optimizer_prompt import prompt_budget, render_prompt
from fnforge.engine.tokens import estimate_tokens
from fnforge.engine.transcripts import Transcript

SIZES = (5, 50, 200)


def module(i: int) -> str:
    """A module of 2-5 KB: a documented public function and private helpers."""
    helpers = "\n\n".join(
        f"def _step_{i}_{k}(values: list[float], scale: float) -> list[float]:\n"
        f'    """Scale every value by {k + 1} and the factor, dropping non-finite results."""\n'
        f"    out = []\n    for v in values:\n        w = v * scale * {k + 1}\n"
        f"        if w == w and abs(w) != float('inf'):\n            out.append(w)\n    return out\n"
        for k in range(3 + i % 8)
    )
    return (
        f'"""Tool {i}: table arithmetic the agent kept getting wrong."""\n\nimport math\n\nPACKAGES = []\n\n'
        f"{helpers}\n\n\ndef tool_{i}(values: list[float], scale: float) -> float:\n"
        f'    """Sum the scaled values of a table column.\n\n    Args:\n        values: the column.\n'
        f'        scale: a factor.\n\n    Returns:\n        The sum.\n    """\n'
        f"    return math.fsum(_step_{i}_0(values, scale))\n"
    )


def context(n: int) -> OptimizerContext:
    """A step late in a long run: n functions, 200 earlier steps, 16 long transcripts."""
    functions = {f"tool_{i}": module(i) for i in range(n)}
    history = [
        StepSummary(
            s,
            "rejected" if s % 3 else "accepted",
            "validation" if s % 3 else None,
            "no improvement: 0.412 -> 0.409 on 500 tasks (3 fixed, 5 broken)",
            0.41,
            0.409,
            [f"revise tool_{s % max(1, n)}", f"add helper_{s}"],
            sorted(functions)[:20] if s % 3 == 0 else None,
        )
        for s in range(1, 201)
    ]
    transcripts = []
    for t in range(16):
        tr = Transcript(task_id=str(t), mode="tools", correct=t % 4 == 0, reference="42", extracted="41")
        tr.add("task", text="A table of prices and quantities follows. " * 40)
        for c in range(6):
            tr.add("tool_call", name=f"tool_{(t + c) % n}", arguments='{"values": [1, 2, 3], "scale": 2}')
            tr.add(
                "tool_result", name=f"tool_{(t + c) % n}", ok=c % 2 == 0, content="error: ValueError: " * 30
            )
        transcripts.append(tr)
    return OptimizerContext(
        position=200,
        task_name="tabmwp",
        task_example="Look at the table. How much would it cost to buy 3 pens and 2 notebooks?",
        functions=functions,
        history=history,
        transcripts=transcripts,
        train_score=0.41,
        packages=["numpy", "pandas", "sympy"],
        stdlib=["math", "re", "statistics", "json"],
    )


def main() -> None:
    """Render each set's prompt unbudgeted and budgeted and print both against the budget."""
    settings = Settings()
    budget = prompt_budget(settings, OPTIMIZER_TOOLS)
    print(
        f"context {settings.llm.optimizer_context_tokens} tokens, reply {settings.llm.optimizer_max_tokens}: "
        f"prompt budget {budget} tokens"
    )
    largest = 0
    for n in SIZES:
        ctx = context(n)
        baseline = estimate_tokens(render_prompt(ctx, settings))
        t0 = time.perf_counter()
        prompt = render_prompt(ctx, settings, budget_tokens=budget)
        took = time.perf_counter() - t0
        tokens = estimate_tokens(prompt)
        largest = max(largest, tokens)
        stubbed = prompt.count("body omitted to fit the prompt")
        print(
            f"{n:4d} functions: unbudgeted {baseline:7d} tokens ({baseline / budget:.2f}x the budget), "
            f"budgeted {tokens:7d} ({tokens / baseline:.2f}x of unbudgeted), {stubbed} bodies omitted, "
            f"rendered in {took * 1000:.0f} ms"
        )
    print(
        f"RESULT functions={SIZES[-1]} prompt_tokens={largest} budget={budget} within={str(largest <= budget).lower()}"
    )


if __name__ == "__main__":
    main()
