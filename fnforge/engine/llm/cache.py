"""The reply cache: every reply on disk under `<repo>/.git/fnforge/cache/`, keyed by its request.

The key is a hash of the full request (model, messages, tools, temperature, seed,
max_tokens, stop), never the API key or the URL. A rerun asks nothing twice, a resumed step
gets the same answers, and an offline replay reads only this. Refusals are cached like
replies, so an offline replay meets the same refusal without a request.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from fnforge.engine.llm.replies import Reply

CACHE_FORMAT = 1


def request_key(request: dict[str, Any]) -> str:
    """The cache key: a hash of the request's canonical JSON (never includes the key or URL)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"v{CACHE_FORMAT}\n{canonical}".encode()).hexdigest()


class ReplyCache:
    """Replies on disk, one JSON file per request hash, written atomically."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Reply | None:
        """The cached reply for a request hash, or None."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        reply = Reply.from_dict(data["reply"])
        reply.cached = True
        return reply

    def put(self, key: str, request: dict[str, Any], reply: Reply) -> None:
        """Store a reply (and the request it answers, for audit) atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": CACHE_FORMAT, "request": request, "reply": reply.to_dict()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        os.replace(tmp, path)

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0


def cache_dir(repo_root: Path) -> Path:
    """Where a repository's replies are cached: inside .git, out of the tree and out of git objects."""
    return Path(repo_root) / ".git" / "fnforge" / "cache"
