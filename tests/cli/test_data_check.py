"""`fnforge data check` and the doctor's data section: each split's rows, format and bad rows by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fnforge.function_repo import FunctionRepo

FNFORGE = str(Path(sys.executable).with_name("fnforge"))


def fnforge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # one bad row a line, unwrapped
    return subprocess.run([FNFORGE, *args], capture_output=True, text=True, timeout=120, env=env)


def repo_with_data(tmp_path: Path, extra: str = "") -> Path:
    config = '[task]\nname = "gsm8k"\n[data]\ntrain = "data/train.jsonl"\nval = "data/val.parquet"\n' + extra
    repo = FunctionRepo.init(tmp_path / "fns", config_text=config)
    rows = [
        {"id": f"t{i}", "question": f"What is {i} plus {i}?", "answer": f"#### {2 * i}"} for i in range(40)
    ]
    lines = [json.dumps(r) for r in rows[:30]]
    lines[6] = '{"id": "t6", "question": "What is'  # line 7 is cut short
    (repo.root / "data" / "train.jsonl").write_text("\n".join(lines) + "\n")
    pq.write_table(pa.Table.from_pylist(rows[30:]), repo.root / "data" / "val.parquet")
    return repo.root


def test_data_check_names_each_bad_row_by_line_and_refuses_over_the_share(tmp_path: Path) -> None:
    root = repo_with_data(tmp_path)
    refused = fnforge("data", "check", "--repo", str(root))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "train.jsonl: 29 tasks, jsonl, 1 bad rows (index built)" in refused.stdout
    assert f"{root / 'data' / 'train.jsonl'}:7: not valid JSON" in refused.stdout
    assert "val.parquet: 10 tasks, parquet, 0 bad rows" in refused.stdout
    assert "a run would refuse to start" in refused.stdout

    (root / "fnforge.toml").write_text((root / "fnforge.toml").read_text() + "max_bad_share = 0.05\n")
    allowed = fnforge("--json", "data", "check", "--repo", str(root))
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    report = json.loads(allowed.stdout)
    train = report["splits"][0]
    assert report["ok"] and train["rows"] == 29 and train["bad_count"] == 1
    assert train["files"][0]["index"] == "cached"  # the index built by the first check is reused
    assert train["files"][0]["bad"][0].startswith(f"{root / 'data' / 'train.jsonl'}:7: ")


def test_doctor_reports_each_split_and_fails_when_a_run_would_refuse(tmp_path: Path) -> None:
    root = repo_with_data(tmp_path)
    proc = fnforge("--json", "doctor", "--repo", str(root))
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert (
        checks["data val"]["status"] == "ok" and "10 tasks (parquet, 1 file)" in checks["data val"]["detail"]
    )
    assert checks["data train"]["status"] == "fail" and ":7: not valid JSON" in checks["data train"]["detail"]
    assert proc.returncode == 1
