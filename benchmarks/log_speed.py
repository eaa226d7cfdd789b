"""How fast `fnforge log` reads a long history, and how many git processes it spawns.

Builds a function repository with 1,000 steps (80% accepted merges, 20% rejected records,
each with its candidate commit, trailers and JSON notes, exactly as fnforge writes them)
in one `git fast-import` run, then times:

  * `FunctionRepo.steps(include_rejected=True)` in-process,
  * the real `fnforge log --all` command (interpreter start included),
  * a baseline that reads the same history the obvious way: one git call per step.

git processes are counted with a `git` shim first on PATH. The last line is
`RESULT steps=1000 log_s=<seconds of the CLI> git_processes=<count for the CLI> ...`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fnforge.function_repo import FunctionRepo
from fnforge.function_repo.history import message

STEPS = int(os.environ.get("FNFORGE_BENCH_STEPS", "1000"))
FUNCTIONS = 20
IDENT = "fnforge-bench <bench@fnforge.invalid>"


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def _module(i: int, k: int) -> str:
    return (
        f'PACKAGES = []\n\n\ndef f_{k}(x: float) -> float:\n    """Version {i} of f_{k}."""\n'
        f"    return x * {i}\n"
    )


def build_history(repo: FunctionRepo, steps: int) -> tuple[int, int]:
    """Write `steps` decided steps with fast-import; return (accepted, rejected)."""
    base = repo.head()
    out: list[bytes] = []
    notes: list[tuple[int, str]] = []
    mark = 0
    tip = base  # sha or ":mark"
    accepted = rejected = 0
    t0 = 1_700_000_000
    for i in range(1, steps + 1):
        k = i % FUNCTIONS
        verb = "revise" if i > FUNCTIONS else "add"
        action = f"{verb} f_{k}"
        is_accepted = i % 5 != 0
        mark += 1
        blob = mark
        out.append(b"blob\nmark :%d\n" % blob + _data(_module(i, k)))
        mark += 1
        cand = mark
        frm = tip if tip.startswith(":") else tip
        trailers = [("Fnforge-Run", "bench"), ("Fnforge-Step", str(i)), ("Fnforge-Action", action)]
        out.append(
            b"commit refs/fnforge/bench-scratch\nmark :%d\n" % cand
            + f"author {IDENT} {t0 + 2 * i} +0000\ncommitter {IDENT} {t0 + 2 * i} +0000\n".encode()
            + _data(message(action, trailers))
            + f"from {frm}\nM 100644 :{blob} functions/f_{k}.py\n\n".encode()
        )
        before, after = round(0.3 + i / (4 * steps), 4), round(0.3 + (i + 1) / (4 * steps), 4)
        decision = "accepted: validation improved" if is_accepted else "rejected: validation: no improvement"
        note = {
            "step": i, "run": "bench", "kind": "step", "decision": decision.split(":")[0],
            "gate": None if is_accepted else "validation", "reason": decision.split(": ", 1)[1],
            "score_before": before, "score_after": after if is_accepted else before,
            "actions": [{"summary": action}], "verdicts": [{"gate": "static", "passed": True}],
            "tokens": 1000 + i, "cost": 0.001 * i,
        }  # fmt: skip
        full = trailers + [
            ("Fnforge-Score", f"{before} -> {after if is_accepted else before}"),
            ("Fnforge-Decision", decision),
        ]
        mark += 1
        record = mark
        stamp = f"committer {IDENT} {t0 + 2 * i + 1} +0000\n".encode()
        if is_accepted:
            accepted += 1
            out.append(
                b"commit refs/heads/%s\nmark :%d\n" % (repo.branch.encode(), record)
                + stamp
                + _data(message(f"Step {i}: {action}", full))
                + f"from {frm}\nmerge :{cand}\nM 100644 :{blob} functions/f_{k}.py\n\n".encode()
            )
            tip = f":{record}"
        else:
            rejected += 1
            out.append(
                f"commit refs/fnforge/rejected/bench/step-{i}\nmark :{record}\n".encode()
                + stamp
                + _data(message(f"Reject step {i}: validation", full))
                + f"from :{cand}\n\n".encode()
            )
        notes += [(cand, json.dumps(note)), (record, json.dumps(note))]
    out.append(
        f"commit refs/notes/fnforge\ncommitter {IDENT} {t0 + 3 * steps} +0000\n".encode()
        + _data("Notes added by fnforge's log benchmark")
    )
    for m, text in notes:
        out.append(f"N inline :{m}\n".encode() + _data(text))
    out.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo.root, input=b"".join(out), check=True)
    subprocess.run(["git", "update-ref", "-d", "refs/fnforge/bench-scratch"], cwd=repo.root, check=True)
    subprocess.run(["git", "reset", "-q", "--hard", repo.branch], cwd=repo.root, check=True)
    return accepted, rejected


def git_shim(where: Path) -> tuple[Path, Path]:
    """A `git` on PATH that appends a line to a counter file, then runs the real git."""
    real = shutil.which("git")
    assert real, "git not found"
    counter = where / "git-calls"
    counter.write_text("")
    shim = where / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho x >> "{counter}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    return shim.parent, counter


def calls(counter: Path) -> int:
    """How many git processes the shim has seen so far."""
    return len(counter.read_text().splitlines())


def main() -> None:
    """Build the history, time fnforge's log and the per-step baseline, print the RESULT line."""
    with tempfile.TemporaryDirectory(prefix="fnforge-log-bench-") as tmp:
        tmp_path = Path(tmp)
        repo = FunctionRepo.init(tmp_path / "agent-fns")
        t = time.perf_counter()
        accepted, rejected = build_history(repo, STEPS)
        print(f"built {STEPS} steps ({accepted} accepted, {rejected} rejected) in "
              f"{time.perf_counter() - t:.2f}s with one git fast-import")  # fmt: skip
        shim_dir, counter = git_shim(tmp_path)
        os.environ["PATH"] = f"{shim_dir}{os.pathsep}{os.environ['PATH']}"

        # fnforge, in-process: FunctionRepo.steps()
        lib = FunctionRepo.open(repo.root)
        times = []
        for _ in range(5):
            before = calls(counter)
            t = time.perf_counter()
            records = lib.steps(include_rejected=True)
            times.append(time.perf_counter() - t)
            lib_calls = calls(counter) - before
        assert len(records) == STEPS, len(records)
        assert sum(r.accepted for r in records) == accepted
        assert records[-1].note["tokens"] == 1000 + STEPS and records[4].gate == "validation"
        lib_s = statistics.median(times)
        print(
            f"FunctionRepo.steps(include_rejected=True): {lib_s:.3f}s (median of 5), git processes: {lib_calls}"
        )

        # fnforge, the command a user types
        fnforge = str(Path(sys.executable).parent / "fnforge")
        cli_times = []
        for _ in range(3):
            before = calls(counter)
            t = time.perf_counter()
            proc = subprocess.run([fnforge, "--json", "log", "--all", "--repo", str(repo.root)],
                                  capture_output=True, text=True, env=os.environ)  # fmt: skip
            cli_times.append(time.perf_counter() - t)
            cli_calls = calls(counter) - before
            assert proc.returncode == 0, proc.stderr
            assert len(proc.stdout.splitlines()) == STEPS
        cli_s = statistics.median(cli_times)
        print(f"fnforge log --all (CLI, interpreter start included): {cli_s:.3f}s (median of 3), "
              f"git processes: {cli_calls}")  # fmt: skip

        # baseline: list the decided commits, then one git call per step for its trailers + note
        before = calls(counter)
        t = time.perf_counter()
        git = ["git", "-C", str(repo.root)]
        shas = subprocess.run(
            [*git, "rev-list", "--first-parent", repo.branch, "--glob=refs/fnforge/rejected"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        base_records = 0
        for sha in shas:
            out = subprocess.run(
                [*git, "log", "-1", "--notes=fnforge", "--format=%(trailers:only)%x1f%N", sha],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            base_records += "Fnforge-Decision" in out
        baseline_s = time.perf_counter() - t
        baseline_calls = calls(counter) - before
        assert base_records == STEPS, base_records
        print(f"baseline (one git call per step): {baseline_s:.3f}s, git processes: {baseline_calls}")
        print(f"ratio baseline/fnforge: library {baseline_s / lib_s:.1f}x faster, "
              f"CLI {baseline_s / cli_s:.1f}x faster; git processes {baseline_calls} -> {cli_calls}")  # fmt: skip
        print(
            f"RESULT steps={STEPS} log_s={cli_s:.3f} git_processes={cli_calls} library_s={lib_s:.3f} "
            f"baseline_s={baseline_s:.3f} ratio={baseline_s / cli_s:.1f}"
        )


if __name__ == "__main__":
    main()
