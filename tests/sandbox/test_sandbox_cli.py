"""`fnforge sandbox run / check / build` through the real command line and a real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FNFORGE = [str(Path(sys.executable).parent / "fnforge")]


def fnforge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*FNFORGE, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def write(tmp_path: Path, body: str, name: str = "probe") -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return path


def test_run_prints_one_json_object_and_exits_0_when_the_call_returned(tmp_path, docker_settings):
    f = write(tmp_path, "def probe(x: int) -> int:\n    print('hi')\n    return x * 2\n")
    out = fnforge("sandbox", "run", "--file", str(f), "--args", '{"x": 21}', "--backend", "docker")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {
        "ok": True,
        "value": 42,
        "error": None,
        "stdout": "hi\n",
        "duration_s": json.loads(out.stdout)["duration_s"],
    }


def test_run_exits_1_with_the_limit_that_stopped_the_call(tmp_path, docker_settings):
    f = write(tmp_path, "def spin() -> None:\n    while True:\n        pass\n", "spin")
    out = fnforge("sandbox", "run", "--file", str(f), "--timeout", "1", "--backend", "docker")
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["ok"] is False and result["error"]["type"] == "Timeout"
    f = write(tmp_path, "def boom() -> int:\n    raise KeyError('k')\n", "boom")
    result = json.loads(fnforge("sandbox", "run", "--file", str(f), "--backend", "docker").stdout)
    assert result["error"] == {"type": "KeyError", "message": "'k'"}


def test_run_exits_2_with_one_line_for_usage_errors(tmp_path):
    f = write(tmp_path, "def probe() -> int:\n    return 1\n")
    for args in (
        ["--file", str(tmp_path / "missing.py")],
        ["--file", str(f), "--args", "{bad"],
        ["--file", str(f), "--args", "[1, 2]"],
        ["--file", str(f), "--timeout", "0"],
    ):
        out = fnforge("sandbox", "run", *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")


def test_check_prints_a_table_where_every_isolation_check_held(docker_settings):
    out = fnforge("sandbox", "check", "--backend", "docker")
    assert out.returncode == 0, out.stdout + out.stderr
    for row in ("network", "filesystem", "limits", "MemoryLimit", "Timeout", "every check held"):
        assert row in out.stdout
    data = json.loads(fnforge("--quiet", "sandbox", "check", "--backend", "docker").stdout)
    assert data["held"] is True and len(data["checks"]) >= 12


def test_build_is_idempotent_and_says_so(docker_settings):
    out = fnforge("sandbox", "build")
    assert out.returncode == 0, out.stderr
    assert "current" in out.stdout and "ready" in out.stdout


def test_run_on_the_process_backend_warns_on_stderr_and_keeps_stdout_json(tmp_path):
    f = write(tmp_path, "def probe(x: int) -> int:\n    return x + 1\n")
    out = fnforge("sandbox", "run", "--file", str(f), "--args", '{"x": 1}', "--backend", "process")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["value"] == 2
    assert "weaker" in out.stderr
