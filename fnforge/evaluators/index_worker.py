"""Building a large file's index in a process of its own, so the process that trains stays small.

The pass over a million rows holds its working arrays (offsets, ids, hashes, a sort) for a few
seconds; the training process only needs the finished index, which it maps from the cache. So
for a file of more than `WORKER_ROWS` rows (estimated from its head), `open_tasks` runs this
module as `python -m fnforge.evaluators.index_worker` with the evaluator's name, the file and the
cache folder; it builds and saves the index, scanning the file's parts on every core it may use,
and prints one JSON line (rows, seconds, parts, its peak memory). A small file is indexed in the calling process: starting a process costs more than the
pass. If the worker fails for any reason the caller builds the index itself, so this is only
ever a saving, never a new way to fail.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fnforge.evaluators.task_index import HEAD_BYTES, IndexCache, file_key, finish_index, scan_part

WORKER_ROWS = 200_000
MAX_PARTS = 4


def estimated_rows(path: Path) -> int:
    """Rows in a file, from Parquet's metadata or from the line length of a JSONL file's head."""
    if path.suffix == ".parquet":
        from fnforge.evaluators.row_readers import ParquetRows

        return sum(ParquetRows(path).group_sizes)
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    return int(path.stat().st_size / max(1, len(head)) * max(1, head.count(b"\n")))


def build_elsewhere(evaluator: Any, path: Path, cache: IndexCache) -> dict[str, Any] | None:
    """Build and save a file's index in a worker process; its figures, or None when it did not."""
    if cache.folder is None:
        return None
    root = getattr(evaluator, "repo_root", None)
    cmd = [sys.executable, "-m", __name__, evaluator.name, str(path), str(cache.folder), str(root or "")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


_PART: dict[str, Any] = {}  # the reader and evaluator the forked part-scanners inherit


def _scan(part: Any) -> Any:
    return scan_part(_PART["reader"], _PART["evaluator"].task, part)


def main(argv: list[str]) -> None:
    """`python -m fnforge.evaluators.index_worker EVALUATOR FILE CACHE [ROOT]`: build, save, report.

    The pass is cut into one part per available core (at most `MAX_PARTS`), each scanned by a
    forked process of this worker; the parts are joined in file order, so the index is the
    same as one pass would make.
    """
    import multiprocessing
    import os

    from fnforge.evaluators.registry import get_evaluator
    from fnforge.evaluators.row_readers import rows_of

    name, path, folder, root = argv[0], Path(argv[1]), Path(argv[2]), (argv[3] if len(argv) > 3 else "")
    _PART["evaluator"] = get_evaluator(name, Path(root) if root else None)
    _PART["reader"] = reader = rows_of(path)
    t0 = time.perf_counter()
    key = file_key(path)
    parts = reader.parts(min(MAX_PARTS, len(os.sched_getaffinity(0))))
    if len(parts) > 1:
        with multiprocessing.get_context("fork").Pool(len(parts)) as pool:
            builders = pool.map(_scan, parts, chunksize=1)
    else:
        builders = [_scan(None)]
    index = finish_index(reader, builders)
    IndexCache(folder).save(path, name, index, key)
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    figures = {"rows": len(index), "seconds": round(time.perf_counter() - t0, 3), "parts": len(parts)}
    print(json.dumps({**figures, "peak_mb": round(peak / 1024, 1)}))


if __name__ == "__main__":
    main(sys.argv[1:])
