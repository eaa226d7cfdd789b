"""fnforge.toml: the template init writes is valid, and bad values name file, key and a fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fnforge.config import IMAGE_ENV, ConfigError, SandboxSettings, Settings, load_settings, render_template


def test_template_parses_into_the_defaults_with_the_task_filled_in(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(IMAGE_ENV, raising=False)  # the template names the default image
    path = tmp_path / "fnforge.toml"
    path.write_text(render_template("tabmwp"))
    settings = load_settings(path)
    assert settings.task.name == "tabmwp"
    assert settings.sandbox == Settings().sandbox
    # new repositories get several candidates a step, combined (benchmarks/search_efficiency.py);
    # a file without the keys keeps one, so the requests of earlier runs, and their replay, do not change
    spend_carefully = {"candidates": 4, "combine": True, "validate_candidates": 2}
    assert settings.training == Settings().training.model_copy(update=spend_carefully)
    assert settings.llm.optimizer_temperature == 0.7 and Settings().llm.optimizer_temperature == 0.0


def test_every_setting_in_the_template_has_a_comment_nearby() -> None:
    text = render_template("gsm8k")
    raw = tomllib.loads(text)
    for section, values in raw.items():
        for key in values:
            lines = text.splitlines()
            index = next(i for i, ln in enumerate(lines) if ln.strip().startswith(f"{key} ="))
            # explained on its own line, or by the comment heading its block of settings
            above = index - 1
            while above > 0 and "=" in lines[above] and not lines[above].lstrip().startswith("#"):
                above -= 1
            explained = "#" in lines[index] or lines[above].lstrip().startswith("#")
            assert explained, f"[{section}] {key} is not explained"


def test_a_wrong_value_names_the_file_the_key_and_an_example(tmp_path: Path) -> None:
    path = tmp_path / "fnforge.toml"
    path.write_text(render_template("gsm8k").replace("memory_mb = 256", 'memory_mb = "2 GB"'))
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    message = str(e.value)
    assert str(path) in message and "memory_mb" in message and "memory_mb = 256" in message


def test_an_unknown_task_and_an_unknown_key_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "fnforge.toml"
    path.write_text('[task]\nname = "gsm9k"\n')
    with pytest.raises(ConfigError, match="gsm8k, tabmwp, math or custom"):
        load_settings(path)
    path.write_text("[training]\npatiense = 3\n")
    with pytest.raises(ConfigError, match="patiense"):
        load_settings(path)


def test_missing_and_broken_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fnforge init"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "fnforge.toml"
    bad.write_text("[task\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_a_config_error_reaches_the_user_as_one_unmangled_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "fns"
    subprocess.run([sys.executable, "-m", "fnforge.cli", "init", str(root)], check=True, capture_output=True)
    (root / "fnforge.toml").write_text("[data]\ntrain = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "fnforge.cli", "eval", "--repo", str(root), "--ref", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "[data] train" in lines[0], done.stderr


def test_the_image_env_names_the_image_only_when_the_file_names_none(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(IMAGE_ENV, "fnforge-sandbox:other")
    assert SandboxSettings().image == "fnforge-sandbox:other"
    path = tmp_path / "fnforge.toml"
    path.write_text(render_template("gsm8k"))
    assert load_settings(path).sandbox.image == "fnforge-sandbox:latest"  # the file wins
    monkeypatch.delenv(IMAGE_ENV)
    assert SandboxSettings().image == "fnforge-sandbox:latest"
