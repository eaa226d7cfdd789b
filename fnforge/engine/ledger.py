"""The ledger of spend: one place that counts requests, tokens and dollars against the `[budget]`.

A run must never spend past the budget its user set, even with many requests in flight at
once. So before a request is sent, its worst case is *reserved*: the prompt's tokens as
measured (`tokens.request_tokens`) plus its reply limit (`max_tokens`, times `n` choices), and
their price at `[llm] prices`. If the reservation would take spent + reserved past any limit
(usd, tokens or requests; 0 = no limit), the request is not sent and `BudgetExhausted` says
what was spent of what. When the reply comes back the reservation is *settled* with the
tokens the endpoint reports; when the request fails it is *released* (nothing counted). A
reply served from the reply cache is never reserved: it costs nothing.

A request and its retries (rate limits, dropped connections) count as one request. The tokens
the endpoint reports can exceed the estimate only if its tokenizer counts a prompt larger
than 1 token per 3 bytes (`tokens.py`), which real tokenizers do not for ordinary text.

The spend of a run is kept in `.git/fnforge/runs/<run>/spend.json` (written atomically after
every settled request), so `fnforge train --resume` continues counting where the stopped
invocation left off, and the budget is the run's, not one invocation's.

Thread and async safe: every change happens under one lock that is never held across an await.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fnforge.engine.llm.errors import LLMError

UNITS = ("usd", "tokens", "requests")


@dataclass(frozen=True)
class Limits:
    """What a run may spend; 0 means no limit in that unit."""

    usd: float = 0.0
    tokens: int = 0
    requests: int = 0

    def any(self) -> bool:
        """Whether any unit is limited."""
        return bool(self.usd or self.tokens or self.requests)

    def as_dict(self) -> dict[str, float]:
        """The limits by unit."""
        return {"usd": self.usd, "tokens": self.tokens, "requests": self.requests}


class BudgetExhausted(LLMError):  # noqa: N818 - named for what happened, like StopIteration
    """The next request cannot be afforded: the run stops (exit status 3) and `--resume` continues it.

    Carries the unit that ran out, what was spent of it, its limit, and what the refused
    request would have needed at worst. An `LLMError`, so it travels as the model client's
    other errors do: past the agents and gates (which record a task's or candidate's own
    failures, never the client's) up to the trainer, which stops without recording the step.
    """

    def __init__(self, unit: str, spent: float, limit: float, needed: float):
        self.unit, self.spent, self.limit, self.needed = unit, spent, limit, needed
        super().__init__(
            f"budget exhausted: spent {fmt(unit, spent)} of {fmt(unit, limit)}; the next request needs up "
            f"to {fmt(unit, needed)} more"
        )

    def line(self, command: str = "fnforge train") -> str:
        """The one line the command prints: what was spent of what, and the command that continues
        (`command` with `--resume` and a larger budget)."""
        flag = {"usd": "--budget-usd", "tokens": "--budget-tokens", "requests": "--budget-requests"}[
            self.unit
        ]
        more = max(self.limit * 2, self.spent + self.needed * 4)
        value = f"{more:.2f}" if self.unit == "usd" else str(int(more))
        return (
            f"spent {fmt(self.unit, self.spent)} of {fmt(self.unit, self.limit)}; "
            f"continue with: {command} --resume {flag} {value}"
        )


def fmt(unit: str, value: float) -> str:
    """A figure with its unit: $0.0123, 12,000 tokens, 40 requests."""
    if unit == "usd":
        return f"${value:.4f}" if value < 1 else f"${value:.2f}"
    return f"{int(value):,} {unit}"


def price_of(prices: Mapping[str, Mapping[str, float]], model: str, prompt: int, completion: int) -> float:
    """Dollars for `prompt` input and `completion` output tokens at `[llm] prices` (USD per million)."""
    price = prices.get(model) or {}
    return (prompt * float(price.get("input", 0.0)) + completion * float(price.get("output", 0.0))) / 1e6


def unpriced(prices: Mapping[str, Mapping[str, float]], models: list[str]) -> list[str]:
    """The models among `models` that have no input and output price in `[llm] prices`."""
    return [m for m in dict.fromkeys(models) if not {"input", "output"} <= set(prices.get(m) or {})]


@dataclass(frozen=True)
class Reservation:
    """What one request was allowed to spend at most (released or settled exactly once)."""

    model: str
    usd: float
    tokens: int


class Ledger:
    """Spent and reserved figures of one run against its limits; see the module docstring."""

    def __init__(self, limits: Limits, prices: Mapping[str, Mapping[str, float]], path: Path | None = None):
        self.limits = limits
        self.prices = prices
        self.path = Path(path) if path is not None else None
        self.spent = dict.fromkeys(UNITS, 0.0)
        self.reserved = dict.fromkeys(UNITS, 0.0)
        self._lock = threading.Lock()
        if self.path is not None and self.path.exists():
            try:
                saved = json.loads(self.path.read_text(encoding="utf-8"))["spent"]
                self.spent = {u: float(saved.get(u, 0.0)) for u in UNITS}
            except (OSError, ValueError, KeyError, TypeError):
                pass  # an unreadable spend file counts from zero; the replies are still cached

    def reserve(self, model: str, prompt_tokens: int, max_tokens: int, n: int = 1) -> Reservation:
        """Reserve a request's worst case, or raise BudgetExhausted without reserving anything."""
        tokens = prompt_tokens + max_tokens * max(1, n)
        usd = price_of(self.prices, model, prompt_tokens, max_tokens * max(1, n))
        need = {"usd": usd, "tokens": float(tokens), "requests": 1.0}
        with self._lock:
            for unit, limit in self.limits.as_dict().items():
                if limit and self.spent[unit] + self.reserved[unit] + need[unit] > limit + 1e-12:
                    raise BudgetExhausted(unit, self.spent[unit], limit, need[unit])
            for unit in UNITS:
                self.reserved[unit] += need[unit]
        return Reservation(model, usd, tokens)

    def settle(self, r: Reservation, prompt_tokens: int, completion_tokens: int) -> float:
        """Replace a reservation by what the endpoint reports it used; the dollars spent."""
        usd = price_of(self.prices, r.model, prompt_tokens, completion_tokens)
        with self._lock:
            self._unreserve(r)
            self.spent["usd"] += usd
            self.spent["tokens"] += prompt_tokens + completion_tokens
            self.spent["requests"] += 1
            self._save(self._data())  # under the lock, so the file never goes back in time
        return usd

    def release(self, r: Reservation) -> None:
        """Give a reservation back: the request failed and nothing is counted."""
        with self._lock:
            self._unreserve(r)

    def _unreserve(self, r: Reservation) -> None:
        self.reserved["usd"] -= r.usd
        self.reserved["tokens"] -= r.tokens
        self.reserved["requests"] -= 1

    def left(self) -> dict[str, float | None]:
        """What is left of each limited unit (None where there is no limit)."""
        with self._lock:
            return {
                u: (max(0.0, limit - self.spent[u]) if limit else None)
                for u, limit in self.limits.as_dict().items()
            }

    def snapshot(self) -> dict[str, Any]:
        """Spent, reserved, limits and what is left, per unit (what a live view shows)."""
        left = self.left()
        with self._lock:
            data = self._data()
        data["left"] = left
        return data

    def _data(self) -> dict[str, Any]:
        return {
            "spent": {u: round(v, 6) if u == "usd" else int(v) for u, v in self.spent.items()},
            "reserved": {u: round(v, 6) if u == "usd" else int(v) for u, v in self.reserved.items()},
            "limits": self.limits.as_dict(),
        }

    def _save(self, data: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".spend-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"spent": data["spent"]}, f)
        os.replace(tmp, self.path)


def describe_spend(snapshot: Mapping[str, Any]) -> str:
    """One phrase for the progress line: what was spent, and what is left of each limit."""
    spent, limits = snapshot["spent"], snapshot["limits"]
    parts = []
    for unit in UNITS:
        if limits.get(unit):
            parts.append(f"{fmt(unit, spent[unit])} of {fmt(unit, limits[unit])}")
    if not parts:
        return f"spent {fmt('usd', spent['usd'])}, {fmt('tokens', spent['tokens'])}"
    return "spent " + ", ".join(parts)
