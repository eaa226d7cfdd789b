"""The image: built offline from the host's own apt mirror, labelled, and not rebuilt when current."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from fnforge.config import SandboxSettings
from fnforge.sandbox import SandboxUnavailable, build_image, image_packages
from fnforge.sandbox.image import LABEL_PACKAGES, LABEL_RECIPE, apt_mirror, recipe_hash


def test_the_mirror_is_read_from_deb822_sources(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert apt_mirror(tmp_path) == ("http://mirror.example/debian", "bookworm")


def test_the_mirror_is_read_from_a_one_line_sources_list(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian buster main\n"
        "deb [arch=amd64] http://mirror.example/debian trixie main contrib\n"
    )
    assert apt_mirror(tmp_path) == ("http://mirror.example/debian", "trixie")


def test_no_mirror_is_a_clear_error(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(SandboxUnavailable, match="no Debian mirror"):
        apt_mirror(tmp_path)


def test_a_current_image_is_not_rebuilt(docker_settings: SandboxSettings):
    said: list[str] = []
    start = time.monotonic()
    image_id = build_image(docker_settings, progress=said.append)
    assert time.monotonic() - start < 10
    assert any("current" in line for line in said), said
    assert image_id == docker.from_env(version="auto").images.get(docker_settings.image).id


def test_the_image_is_labelled_with_its_recipe_packages_and_a_non_root_user(docker_settings: SandboxSettings):
    image = docker.from_env(version="auto").images.get(docker_settings.image)
    assert image.labels[LABEL_RECIPE] == recipe_hash()
    packages = image.labels[LABEL_PACKAGES].split(",")
    assert {"hypothesis", "numpy", "sympy"} <= set(packages)
    assert image.attrs["Config"]["User"] not in ("", "0", "root")
    assert {"hypothesis", "numpy", "sympy"} <= set(image_packages(docker_settings))


def test_the_process_backend_reports_the_hosts_packages():
    packages = image_packages(SandboxSettings(backend="process"))
    assert "hypothesis" in packages and "os" not in packages
