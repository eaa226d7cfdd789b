"""A GSM8K world whose models behave like real ones (see tests/real_model.py), for whole runs.

The agent model is `gsm8k_world`'s calculator user, with a real model's habits on a few
fixed questions: it answers one in prose instead of calling the tool (a wrong answer), one in
prose so long that it is cut at `max_tokens` (reason `truncated`), and one is refused by the
provider's content filter (reason `refused`). The server adds 429s, context-length 400s for
the optimizer model (its real window is smaller than the one configured, a common mistake)
and 400s for tool schemas with an array lacking `items`.

The optimizer model's plan, keyed by how many earlier steps its prompt accounts for (shown
lines plus the "N earlier steps not shown" marker, so a trimmed history keeps the count):
1. two large modules at once: cut at the reply limit; asked for fewer edits, it sends one
   module of more than 6,000 characters, which is merged;
2. a function with a `tuple[int, int]` parameter (its schema is refused by the provider, or
   by the static gate where fnforge refuses such types itself);
3. `no_change`;
4. two large modules again, also on the re-ask: "reply cut at N tokens";
5. an unused helper: passes the gates, no gain;
6. code that does not parse, twice;
7. `calculate` revised to return a string: the property gate;
8. a plain statement that it has nothing to add: "no edit proposed".
With patience 7 the run stops early after step 8.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gsm8k_world as base
from llm_server import Reply, error, text, tool_calls
from real_model import RealModel

AGENT_MODEL = base.AGENT_MODEL
OPTIMIZER_MODEL = base.OPTIMIZER_MODEL
OPTIMIZER_MAX_TOKENS = 2500
AGENT_MAX_TOKENS = 120

_GRAMMAR = "\n".join(
    f"    {i + 1:2d}. {line}"
    for i, line in enumerate(
        [
            "A number is a run of digits with at most one decimal point, such as 12, 3.5 or .25.",
            "The operators are + and - (lowest precedence) and * and / (higher precedence).",
            "Operators of the same precedence group from the left: 8 - 3 - 2 is (8 - 3) - 2.",
            "A leading + or - applies to the factor right after it: -3 * 2 is (-3) * 2.",
            "Parentheses group a sub-expression and may nest to any depth the stack allows.",
            "Spaces between numbers and operators are ignored; no other characters are allowed.",
            "Division by zero is an error, not an infinite value, so callers see what went wrong.",
            "A result that is not finite (an overflow) is an error for the same reason.",
            "Thousands separators are not numbers: write 1200, not 1,200, in the expression.",
            "Percentages are not operators: write 0.15 * 80 for 15% of 80.",
            "Units are not part of the expression: write 3 * 4, not 3 apples * 4.",
            "The function never rounds; the caller decides how to present the value.",
        ]
        * 4
    )
)

BIG_CALCULATE = base.CALCULATE.replace(
    '"""A safe calculator, so the agent does not do arithmetic in its head."""',
    '"""A safe calculator, so the agent does not do arithmetic in its head.\n\n'
    "The grammar it accepts, rule by rule:\n\n" + _GRAMMAR + '\n"""',
)
assert len(BIG_CALCULATE) > 6000, len(BIG_CALCULATE)

BIG_DESCRIBE = base.DESCRIBE.replace(
    '"""Formats a number for reading."""',
    '"""Formats a number for reading.\n\nNotes kept with the code:\n\n' + _GRAMMAR + '\n"""',
)

PAIR_SUM = '''"""Adds the two numbers of a pair."""

PACKAGES = []


def pair_sum(pair: tuple[int, int]) -> int:
    """Return the sum of the two numbers of `pair`.

    Args:
        pair: two integers.

    Returns:
        Their sum.
    """
    return pair[0] + pair[1]
'''


def _add(name: str, code: str) -> tuple[str, dict]:
    return ("add_function", {"name": name, "description": f"{name}.", "packages": [], "code": code})


class RealWorld(base.GSM8KWorld):
    """The scripted models of the realistic run (see the module docstring)."""

    def __init__(
        self, records: list[dict[str, Any]], prose: list[int], long_prose: list[int], filtered: list[int]
    ):
        super().__init__(records)
        questions = [r["question"].strip() for r in records]
        self.prose = {questions[i] for i in prose}
        self.long_prose = {questions[i] for i in long_prose}
        self.filtered = {questions[i] for i in filtered}

    def agent(self, body: dict) -> Reply:
        question = self._question(body)
        if question in self.filtered:
            return error(
                400,
                message="The response was filtered due to the prompt triggering a content policy.",
                code="content_filter",
            )
        if body.get("tools") and not base.tool_results(body):
            if question in self.prose:
                return text(
                    "I can work this out without the calculator: the answer is probably the first number."
                )
            if question in self.long_prose:
                return text("Let me reason about every quantity in the problem carefully. " * 40)
        return super().agent(body)

    @staticmethod
    def steps_done(body: dict) -> int:
        prompt = body["messages"][0]["content"]
        shown = len(re.findall(r"^- step \d+:", prompt, flags=re.M))
        hidden = re.search(r"^- \((\d+) earlier steps not shown\)", prompt, flags=re.M)
        return shown + (int(hidden.group(1)) if hidden else 0)

    def optimizer(self, body: dict) -> Reply:
        done = self.steps_done(body)
        retry = body["messages"][1]["content"] if len(body["messages"]) > 1 else ""
        if done == 0:
            if "cut off" in retry:
                return tool_calls(_add("calculate", BIG_CALCULATE))
            return tool_calls(_add("calculate", BIG_CALCULATE), _add("describe_number", BIG_DESCRIBE))
        if done == 1:
            return tool_calls(_add("pair_sum", PAIR_SUM))
        if done == 2:
            return tool_calls(("no_change", {"reason": "the calculator covers these failures"}))
        if done == 3:
            return tool_calls(
                ("revise_function", {"name": "calculate", "description": "c", "code": BIG_CALCULATE + "\n"}),
                _add("describe_number", BIG_DESCRIBE),
            )
        if done == 4:
            return tool_calls(_add("describe_number", base.DESCRIBE))
        if done == 5:
            return tool_calls(_add("broken", base.BROKEN))
        if done == 6:
            return tool_calls(
                ("revise_function", {"name": "calculate", "description": "c", "code": base.CALCULATE_AS_TEXT})
            )
        return text("I have nothing further to add: the remaining failures are not about the functions.")


def make_model(records: list[dict[str, Any]], *, rate_limit_every: int = 40) -> RealModel:
    """The realistic server's script for 8 training and 8 validation records."""
    world = RealWorld(records, prose=[1, 9], long_prose=[2, 10], filtered=[11])
    return RealModel(
        world,
        context_tokens={OPTIMIZER_MODEL: 5000, AGENT_MODEL: 32000},
        rate_limit_every=rate_limit_every,
    )


def config_text(base_url: str) -> str:
    """fnforge.toml of the realistic run: the reply limits and a context window set too large."""
    cfg = base.config_text(base_url, patience=7, extra_training=base.PAPER_RULES)
    cfg = cfg.replace(
        "max_retries = 2\n",
        f"max_retries = 2\nmax_tokens = {AGENT_MAX_TOKENS}\noptimizer_max_tokens = {OPTIMIZER_MAX_TOKENS}\n"
        "optimizer_context_tokens = 9000\nmax_wait_s = 60\n",
    )
    return cfg.replace("max_steps = 10", "max_steps = 12").replace("epochs = 3", "epochs = 6")


def make_repo(path: Path, records: list[dict], base_url: str) -> Any:
    """A fresh function repository for the realistic run."""
    from fnforge.function_repo import FunctionRepo

    repo = FunctionRepo.init(path, config_text=config_text(base_url))
    base.write_split(path / "data" / "train.jsonl", records[:8])
    base.write_split(path / "data" / "val.jsonl", records[8:])
    repo.git.run("add", "data")
    repo.git.run("commit", "-q", "-m", "Add GSM8K training and validation slices")
    return repo
