"""`fnforge watch` started as a user starts it (the console script, a real socket), for tests."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FNFORGE = str(Path(sys.executable).parent / "fnforge")
# the fields of a step that `/state.json` and `fnforge log --json` must agree on
LOG_FIELDS = (
    "step",
    "run",
    "kind",
    "decision",
    "gate",
    "reason",
    "score_before",
    "score_after",
    "actions",
    "commit",
)


@contextmanager
def watching(repo: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `fnforge --json watch --repo REPO --port 0 ARGS` and yield its page URL once it listens."""
    proc = subprocess.Popen(
        [FNFORGE, "--json", "watch", "--repo", str(repo), "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line, f"watch did not start: {proc.stderr.read()}"
        yield json.loads(line)["url"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def repository_state(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under `root`, .git included: (mtime in ns, content hash). Equal before and after
    means nothing was written, touched or created."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = (
                path.stat().st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return out
