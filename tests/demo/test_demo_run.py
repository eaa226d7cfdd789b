"""`fnforge demo` end to end: the real store, Docker sandbox, gates and TabMWP evaluator,
with only the optimizer replaced by the reviewed scripted edits in examples/.

It runs the real command line in a subprocess on the Docker backend (the demo's
`backend = "auto"` picks Docker because an engine answers and the image exists; the test
asserts the demo said so and never fell back to the weaker process backend)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fnforge.demo import DEMO_MARKER, SCRIPTED_NOTICE, DemoError, create_demo_repo, sparkline
from fnforge.function_repo import FunctionRepo

FNFORGE = str(Path(sys.executable).with_name("fnforge"))

# what the scripted edits must lead to: (decision, gate) per step
EXPECTED = [
    ("accepted", None),  # 1 the seed solve
    ("accepted", None),  # 2 statistics helpers
    ("rejected", "property"),  # 3 count_matching raises KeyError on tables without "Stem"
    ("accepted", None),  # 4 counts, totals, differences
    ("rejected", "validation"),  # 5 rounding every answer does not improve
    ("accepted", None),  # 6 rates of change, linear, function
    ("rejected", "static"),  # 7 code that does not parse
    ("accepted", None),  # 8 which choice has the most / least
    ("accepted", None),  # 9 probability, shortage/surplus, prices
]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path, float]:
    out = tmp_path_factory.mktemp("demo") / "demo-run"
    started = time.perf_counter()
    proc = subprocess.run(
        [FNFORGE, "demo", "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=out.parent
    )
    return proc, out, time.perf_counter() - started


@pytest.mark.docker
def test_demo_replays_the_edits_and_every_gate_gives_its_verdict(demo_run):
    proc, out, seconds = demo_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "sandbox: 2 warm workers in Docker containers" in proc.stdout
    assert "process backend" not in proc.stdout + proc.stderr  # never the weaker fallback
    with FunctionRepo.open(out) as repo:
        steps = repo.steps(include_rejected=True)
        assert [(s.decision, s.gate) for s in steps] == EXPECTED
        by_step = {s.step: s for s in steps}
        assert "KeyError" in by_step[3].reason  # the falsifying example's exception
        assert "parse" in by_step[7].reason
        accepted = [s.score_after for s in steps if s.accepted]
        assert all(b > a for a, b in zip(accepted, accepted[1:], strict=False)), accepted
        assert accepted[0] >= 0.05 and accepted[-1] >= 0.6, accepted
        assert by_step[5].score_after <= by_step[5].score_before
        assert "count_matching" in repo.functions() and "probability_of" in repo.functions()
        # rejected candidates stay addressable for audit
        rejected = repo.git.run("for-each-ref", "--format=%(refname)", "refs/fnforge/rejected/demo")
        assert rejected.split() == [f"refs/fnforge/rejected/demo/step-{n}" for n in (3, 5, 7)]
    assert seconds < 180, f"the demo took {seconds:.0f} s"


@pytest.mark.docker
def test_demo_says_it_replays_scripted_edits_and_ends_with_history_curve_report_export(demo_run):
    proc, out, _ = demo_run
    text = proc.stdout
    assert text.count(SCRIPTED_NOTICE) >= 1 and text.index(SCRIPTED_NOTICE) < text.index("step 1")
    assert "Step 9:" in text and "*   " in text  # the branch's graph with its merges
    assert (
        "rejected at property" in text and "rejected at validation" in text and "rejected at static" in text
    )
    report = out / "report.html"
    assert f"report: {report}" in text and report.stat().st_size > 20_000
    assert report.read_text(encoding="utf-8").count('<tr class="') == len(EXPECTED)
    assert f"fnforge export --repo {out} --format wheel" in text


def test_an_existing_directory_that_is_not_a_demo_is_never_replaced(tmp_path):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("my work")
    proc = subprocess.run([FNFORGE, "demo", "--out", str(keep)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not an earlier demo" in " ".join(proc.stderr.split())
    assert (keep / "notes.txt").read_text() == "my work"
    with pytest.raises(DemoError, match="--out NEW_DIR"):
        create_demo_repo(keep)


def test_an_earlier_demo_is_replaced_by_a_fresh_repository(tmp_path):
    earlier = tmp_path / "demo-run"
    earlier.mkdir()
    (earlier / "fnforge.toml").write_text(DEMO_MARKER + " (an old one)\n")
    (earlier / "stale.txt").write_text("old")
    repo, replaced = create_demo_repo(earlier)
    with repo:
        assert replaced and not (earlier / "stale.txt").exists()
        assert repo.functions() == {} and repo.steps() == []
        tracked = repo.git.run("ls-files").split()
        assert {"fnforge.toml", "demo_edits.json", "data/train.json", "data/val.json"} <= set(tracked)
        assert repo.settings.agent.mode == "direct" and repo.settings.llm.scripted_edits == "demo_edits.json"


def test_sparkline_draws_scores_low_to_high_and_unknown_as_space():
    assert sparkline([0.0, 0.5, 1.0, None]) == "▁▅█ "


def test_without_docker_the_demo_says_it_falls_back_to_the_weaker_process_sandbox(tmp_path, monkeypatch):
    from fnforge.config import load_settings
    from fnforge.demo import EXAMPLES, open_demo_sandbox
    from fnforge.sandbox.process_backend import WEAKER

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    said: list[str] = []
    settings = load_settings(EXAMPLES / "demo-fnforge.toml")
    with open_demo_sandbox(settings, lambda event, **kw: said.append(str(kw["message"]))) as pool:
        assert pool.backend_name == "process"
        assert pool.call({"echo": ECHO}, "echo", {"x": 2}, timeout=5).value == 2
    assert any(line.startswith(f"warning: {WEAKER}") for line in said), said
    assert said[-1] == "sandbox: 2 warm workers in local processes"
    assert not any("building the sandbox image" in line for line in said)


ECHO = '''def echo(x: int) -> int:
    """Return x."""
    return x
'''
