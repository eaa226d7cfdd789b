"""What the allowed modules of one sandbox image hold that are modules, as data the policy reads.

`statistics.sys`, `random._os` and `numpy.ctypeslib.ctypes` lead from an allowed module to one
the policy forbids. Which attributes do so depends on the library versions in the image, so
`module_walker.py` computes it inside the image (image.py runs it once per image and keeps the
JSON beside it, keyed by the image id) and this module turns that JSON into `ModuleFacts`:
plain dicts, so the policy gate's every lookup is a dict lookup, never a call into the image.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

FORMAT = 1
ANY_MODULE = "*"  # module_walker's mark for an attribute that imports any module by name
MAX_BYTES = 64 * 1024 * 1024  # far above the ~0.2 MB of today's image; bounds a broken walker


class FactsUnreadable(ValueError):
    """The walker's output is not the JSON object it promises (a broken image or interpreter)."""


@dataclass(frozen=True)
class Route:
    """Where an attribute chain leads: `chain` (canonical: from the module's real name) holds
    module `reaches`, forbidden or not; `steps` is how many of the walked names it took."""

    chain: str
    reaches: str
    forbidden: bool
    steps: int = 0


@dataclass(frozen=True)
class ModuleFacts:
    """The allowed top-level modules and, per loaded module, its attribute paths that hold modules.

    `modules[m][path]` is the name of the module that `m.<path>` holds (path: 1 to 3 names
    joined by dots), or ANY_MODULE where it holds a function that imports any module by name;
    every importable allowed module, submodules included, is a key.
    """

    allowed: frozenset[str]
    modules: Mapping[str, Mapping[str, str]]
    samples: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)
    seconds: float = field(default=0.0, compare=False)  # how long the walk took in the image

    def is_allowed(self, module: str) -> bool:
        """True when `module` belongs to an allowed top-level module."""
        return module.split(".")[0] in self.allowed

    def follows(self, module: str) -> bool:
        """True when a chain may go on through `module`: allowed, and its attributes known."""
        return self.is_allowed(module) and module in self.modules

    def knows(self, module: str) -> bool:
        """True when `module` imported in the image (so its attributes are known)."""
        return module in self.modules

    def follow(self, module: str, names: list[str]) -> Iterator[Route]:
        """The modules met walking `module.<names...>`, in order, stopping at the first forbidden one.

        A prefix that holds no module (a function, a class, a constant) ends the walk: past it
        the chain reaches no module the walker saw within depth 3.
        """
        at, i = module, 0
        while i < len(names):
            held = self.modules.get(at, {})
            step = next(
                (k for k in range(1, 4) if i + k <= len(names) and ".".join(names[i : i + k]) in held),
                None,
            )
            if step is None:
                return
            target = held[".".join(names[i : i + step])]
            i += step
            route = Route(".".join([module, *names[:i]]), target, not self.follows(target), i)
            yield route
            if route.forbidden:
                return
            at = target

    def module_held(self, module: str, names: list[str]) -> str | None:
        """The allowed module that `module.<names...>` is, or None (not a module, or forbidden)."""
        if not names:
            return module
        last = None
        for route in self.follow(module, names):
            last = route
        if last is None or last.forbidden or last.steps != len(names):
            return None
        return last.reaches

    def forbidden_chains(self, max_depth: int = 3) -> Iterator[Route]:
        """Every chain of at most `max_depth` names from an allowed top-level module to a forbidden one."""
        for top in sorted(self.allowed & set(self.modules)):
            stack: list[tuple[str, list[str]]] = [(top, [])]
            while stack:
                at, names = stack.pop()
                for path, target in sorted(self.modules.get(at, {}).items()):
                    chain = names + path.split(".")
                    if len(chain) > max_depth:
                        continue
                    if not self.follows(target):
                        yield Route(".".join([top, *chain]), target, True, len(chain))
                    else:
                        stack.append((target, chain))

    def to_json(self) -> str:
        """The facts as the walker's JSON (what the cache keeps)."""
        return json.dumps(
            {
                "format": FORMAT,
                "allowed": sorted(self.allowed),
                "modules": self.modules,
                "samples": self.samples,
                "failed": self.failed,
                "seconds": self.seconds,
            }
        )


def facts_from_json(text: str | bytes) -> ModuleFacts:
    """Parse the walker's output, checking every field's shape; raises FactsUnreadable."""
    if len(text) > MAX_BYTES:
        raise FactsUnreadable(f"the module walker printed {len(text)} bytes; expected at most {MAX_BYTES}")
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise FactsUnreadable(f"the module walker printed no JSON ({e}): {str(text)[:200]!r}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise FactsUnreadable(f"the module walker's output is not format {FORMAT}")
    allowed = raw.get("allowed")
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise FactsUnreadable("the module walker's `allowed` is not a list of names")
    seconds = raw.get("seconds", float(raw.get("import_s", 0)) + float(raw.get("walk_s", 0)))
    return ModuleFacts(
        allowed=frozenset(allowed),
        modules=_str_tree(raw.get("modules"), "modules"),
        samples=_str_tree(raw.get("samples", {}), "samples"),
        failed=_str_map(raw.get("failed", {}), "failed"),
        seconds=float(seconds),
    )


def _str_map(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise FactsUnreadable(f"the module walker's `{what}` is not a map of names to names")
    return value


def _str_tree(value: object, what: str) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise FactsUnreadable(f"the module walker's `{what}` is not a map")
    return {str(k): _str_map(v, what) for k, v in value.items()}
