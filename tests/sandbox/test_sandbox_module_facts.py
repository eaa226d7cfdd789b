"""Module facts: computed once inside the image, kept beside it by image id, read back as JSON only."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from fnforge.sandbox.image import facts_cache_dir
from fnforge.sandbox.module_facts import FactsUnreadable, facts_from_json

FRESH_PROCESS = (
    "import sys, time\n"
    "from fnforge.config import SandboxSettings\n"
    "from fnforge.sandbox.image import image_module_facts\n"
    "said = []\n"
    "start = time.monotonic()\n"
    "facts = image_module_facts(SandboxSettings(backend='docker'), said.append)\n"
    "print(round(time.monotonic() - start, 3), len(facts.modules), bool(said))\n"
)


def _fresh_process(env: dict[str, str] | None = None) -> tuple[float, int, bool]:
    """(seconds, modules known, whether it computed) from image_module_facts in a new interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1]), out[2] == "True"


def test_the_facts_come_from_the_image_and_are_kept_beside_it_by_image_id(docker_settings, module_facts):
    image_id = docker.from_env(version="auto").images.get(docker_settings.image).id.replace("sha256:", "")
    kept = [p for p in facts_cache_dir().glob("*.json") if p.name.startswith(image_id[:32])]
    assert kept, f"no facts for image {image_id[:12]} in {facts_cache_dir()}"
    assert facts_from_json(kept[0].read_text()) == module_facts
    # the image's library versions decide them: numpy's ctypes helper, statistics' sys
    assert module_facts.modules["numpy.ctypeslib"]["ctypes"] == "ctypes"
    assert module_facts.modules["statistics"]["sys"] == "sys"
    assert "hypothesis.extra.django" in module_facts.failed  # django is not in the image
    seconds, known, computed = _fresh_process()
    assert not computed and known == len(module_facts.modules) and seconds < 5


def test_a_damaged_cache_entry_is_computed_again_in_the_image(tmp_path: Path, docker_settings, module_facts):
    image_id = docker.from_env(version="auto").images.get(docker_settings.image).id.replace("sha256:", "")
    kept = tmp_path / "fnforge" / "module-facts"
    kept.mkdir(parents=True)
    for entry in facts_cache_dir().glob(f"{image_id[:32]}-*.json"):  # this image's entry, damaged
        (kept / entry.name).write_text("{'format': 1}")  # a Python literal, not JSON
    seconds, known, computed = _fresh_process({**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert computed and known == len(module_facts.modules)
    mended = [e for e in kept.glob("*.json") if e.read_text().startswith('{"')]
    assert len(mended) == 1 and facts_from_json(mended[0].read_text()) == module_facts


@pytest.mark.parametrize(
    "text",
    [
        pickle.dumps({"format": 1}),
        "{'format': 1, 'allowed': [], 'modules': {}}",
        json.dumps({"format": 2, "allowed": [], "modules": {}}),
        json.dumps({"format": 1, "allowed": "os", "modules": {}}),
        json.dumps({"format": 1, "allowed": [], "modules": {"m": {"a": 1}}}),
        json.dumps({"format": 1, "allowed": [], "modules": []}),
    ],
)
def test_the_walkers_output_is_read_as_json_of_the_promised_shape_or_refused(text):
    with pytest.raises(FactsUnreadable):
        facts_from_json(text)
