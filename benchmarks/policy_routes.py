"""What following attribute chains costs the policy gate, which runs on every candidate.

Measured in one run, on every function version of the demo's scripted edits:
  * the attribute-route check (`route_problems`: dict lookups in the image's module facts),
  * against the baseline of the import check the gate ran before it (`import_problems`),
  * the whole policy gate on the demo's final set (its ruff subprocess dominates),
  * loading the facts from the cache in a fresh interpreter, and computing them in the image
    (into a scratch cache, so the user's is untouched).

The last line is `RESULT policy_routes chains=<depth <= 3 chains to forbidden modules>
walk_s=<computing the facts in the image> load_s=<reading them in a fresh process>
routes_ms=<per function> imports_ms=<per function, the baseline> ratio=<routes/imports>
gate_ms=<one whole policy check>`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fnforge.config import SandboxSettings
from fnforge.sandbox import PolicyGate, image_module_facts, image_packages
from fnforge.sandbox.attribute_chains import route_problems

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ROUNDS = 200
LOAD = (
    "import time; t = time.monotonic()\n"
    "from fnforge.config import SandboxSettings\n"
    "from fnforge.sandbox.image import image_module_facts\n"
    "image_module_facts(SandboxSettings(backend='docker'))\n"
    "print(time.monotonic() - t)\n"
)


class _Candidate:
    """The least a gate reads of a candidate."""

    def __init__(self, functions: dict[str, str]):
        self.functions, self.changed, self.actions, self.tests = functions, list(functions), [], {}


def demo_functions() -> list[tuple[str, str]]:
    """Every (name, source) the demo's scripted edits write."""
    steps = json.loads((EXAMPLES / "demo_edits.json").read_text(encoding="utf-8"))
    return [(a["name"], a["code"]) for step in steps for a in step if a.get("code")]


def per_function_ms(check, functions: list[tuple[str, str]]) -> float:
    """The mean over ROUNDS passes, in milliseconds per function."""
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for name, source in functions:
            check(name, source)
    return (time.perf_counter() - started) / ROUNDS / len(functions) * 1000


def main() -> None:
    """Measure and print the table and the RESULT line."""
    settings = SandboxSettings(backend="docker")
    with tempfile.TemporaryDirectory(prefix="fnforge-bench-facts-") as scratch:
        env = {**os.environ, "XDG_CACHE_HOME": scratch}
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", LOAD], env=env, check=True, capture_output=True)
        walk_s = time.monotonic() - started
    facts = image_module_facts(settings)
    load_s = float(
        subprocess.run([sys.executable, "-c", LOAD], check=True, capture_output=True, text=True).stdout
    )
    gate = PolicyGate(image_packages(settings), facts)
    functions = demo_functions()
    names = {n for n, _ in functions}
    routes_ms = per_function_ms(lambda n, s: route_problems(n, s, facts), functions)
    imports_ms = per_function_ms(lambda n, s: gate.import_problems(n, s, names), functions)
    started = time.perf_counter()
    final = dict(functions)  # the demo's last version of each function
    verdict = gate.check(_Candidate(final))
    gate_ms = (time.perf_counter() - started) * 1000
    chains = sum(1 for _ in facts.forbidden_chains())
    print(f"module facts: {len(facts.modules)} modules, {chains} chains of depth <= 3 to forbidden modules")
    print(f"computing them in the image (fresh interpreter, container start included): {walk_s:.1f} s")
    print(f"reading them from the cache in a fresh interpreter: {load_s:.2f} s")
    print(f"route check {routes_ms:.3f} ms/function vs import check {imports_ms:.3f} ms/function")
    print(f"one whole policy check of {len(final)} functions: {gate_ms:.0f} ms (passed: {verdict.passed})")
    print(
        f"RESULT policy_routes chains={chains} walk_s={walk_s:.1f} load_s={load_s:.2f} "
        f"routes_ms={routes_ms:.3f} imports_ms={imports_ms:.3f} ratio={routes_ms / imports_ms:.2f} "
        f"gate_ms={gate_ms:.0f}"
    )


if __name__ == "__main__":
    main()
