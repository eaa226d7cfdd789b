"""What the agent did on each task, kept as JSON lines next to the cache (out of git).

The optimizer learns from transcripts (sampled failures and successes), and a person
auditing a step wants to see the tool calls, results and errors behind a score. Each step
of a run writes `<repo>/.git/fnforge/runs/<run>/step-<n>.jsonl`, one line per task and
evaluation (train batch, validation of head and candidate).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Transcript:
    """One agent run on one task: the events in order, the final output, and the verdict."""

    task_id: str
    mode: str
    events: list[dict[str, Any]] = field(default_factory=list)
    output: str | None = None
    error: str | None = None
    reason: str | None = None  # why the run ended without an answer: truncated, refused, context...
    correct: bool | None = None
    extracted: Any = None
    reference: Any = None
    turns: int = 0
    duration_s: float = 0.0

    def add(self, kind: str, **data: Any) -> None:
        """Append an event (llm turn, tool call, tool result, error)."""
        self.events.append({"kind": kind, **data})

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a JSONL line."""
        return asdict(self)

    def render(self, budget_chars: int = 1500) -> str:
        """A compact text form for the optimizer's prompt, cut to a character budget."""
        lines = [f"task {self.task_id}: {'correct' if self.correct else 'WRONG'}"]
        if self.reference is not None:
            lines.append(f"  expected: {self.reference!s:.200}  got: {self.extracted!s:.200}")
        for ev in self.events:
            kind = ev["kind"]
            if kind == "task":
                lines.append(f"  task: {ev.get('text', '')!s:.600}")
            elif kind == "tool_call":
                lines.append(f"  call {ev.get('name')}({ev.get('arguments')!s:.300})")
            elif kind == "tool_result":
                lines.append(f"  -> {ev.get('content')!s:.300}")
            elif kind == "assistant" and ev.get("content"):
                lines.append(f"  assistant: {ev['content']!s:.400}")
            elif kind == "error":
                lines.append(f"  error: {ev.get('message')!s:.300}")
        if self.error:
            why = f" ({self.reason})" if self.reason else ""
            lines.append(f"  run error{why}: {self.error:.300}")
        elif self.reason:
            lines.append(f"  ended: {self.reason}")
        text = "\n".join(lines)
        return text if len(text) <= budget_chars else text[: budget_chars - 15] + "\n  [...cut]"


def runs_dir(repo_root: Path) -> Path:
    """Where transcripts live: inside .git, beside the reply cache."""
    return Path(repo_root) / ".git" / "fnforge" / "runs"


class TranscriptLog:
    """Appends transcripts of one step to its JSONL file; safe to use from many tasks at once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @classmethod
    def for_step(cls, repo_root: Path, run: str, step: int) -> TranscriptLog:
        """The log of step `step` of run `run` (a redone step starts its file afresh)."""
        path = runs_dir(repo_root) / run / f"step-{step}.jsonl"
        if path.exists():
            path.unlink()
        return cls(path)

    @staticmethod
    def line(transcript: Transcript, **context: Any) -> str:
        """One transcript with its context as the JSON line the log holds (no newline)."""
        return json.dumps({**context, **transcript.to_dict()}, default=str, ensure_ascii=False)

    def write(self, transcript: Transcript, **context: Any) -> None:
        """Append one transcript with its context (split, function-set hash...)."""
        self.write_lines([self.line(transcript, **context)])

    def write_lines(self, lines: list[str]) -> None:
        """Append lines made by `line` elsewhere (a Ray worker sends its transcripts this way)."""
        if not lines:
            return
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write("".join(x + "\n" for x in lines))

    def read(self) -> list[dict[str, Any]]:
        """Every line written so far."""
        if not self.path.exists():
            return []
        return [json.loads(x) for x in self.path.read_text(encoding="utf-8").splitlines() if x.strip()]
