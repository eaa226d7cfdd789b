"""Export a function set: every format is one `export_<format>` function in the `EXPORTS` table.

`fnforge export --format NAME` reads the table, so a new format is one registered function
(`@export_format("name")`) taking the repository and an `ExportRequest` and returning what
it wrote as `Exported`:
- `wheel`: what a user ships, an ordinary package (no fnforge at run time) exposing every
  function, `TOOLS` (the derived tool schemas) and `__version__` naming the step and commit
  (`set_version`). Written directly with the standard library's zipfile (the wheel format is
  a zip with a dist-info folder), so exporting needs no build backend, network or compiler.
- `tools-json`: the OpenAI tool schemas, as `fnforge serve` offers them.
- `patch`: a step's candidate as `git format-patch` files (`patches.py`).
- `mcp-config`: the `mcpServers` entry an MCP client needs to start `fnforge serve`.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fnforge.function_repo.client_config import mcp_config
from fnforge.function_repo.errors import RepoError
from fnforge.function_repo.patches import export_patches
from fnforge.function_repo.schema import tool_schema

if TYPE_CHECKING:
    from fnforge.function_repo.repo import FunctionRepo

# import name -> distribution name, where they differ (PACKAGES lists import names)
_DISTRIBUTIONS = {
    "sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml", "cv2": "opencv-python",
    "bs4": "beautifulsoup4", "dateutil": "python-dateutil", "Levenshtein": "python-Levenshtein",
}  # fmt: skip
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same set exports byte-identical wheels
_SIBLING_FROM = re.compile(r"^(\s*)from\s+functions\.(\w+)\s+import\b", re.M)
_SIBLING_PKG = re.compile(r"^(\s*)from\s+functions\s+import\b", re.M)


@dataclass(frozen=True)
class ExportRequest:
    """What an export is asked for; each format reads the fields it needs."""

    out: Path | None = None  # where to write (None: the format's default, or print for mcp-config)
    ref: str | None = None  # a step number, branch or commit (None: the branch head)
    name: str | None = None  # the import name (wheel, mcp-config; default: the repo's directory)
    step: int | None = None  # the step whose candidate to write (patch only)


@dataclass(frozen=True)
class Exported:
    """What an export wrote (`paths`, plus `details` for --json), or the text it prints instead."""

    paths: list[Path] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    printed: str | None = None  # written to stdout instead of a file (mcp-config without --out)
    hint: str = ""  # what to do with it next, e.g. how to apply patches


Export = Callable[["FunctionRepo", ExportRequest], Exported]
EXPORTS: dict[str, Export] = {}  # format name -> its export_<format>, in the order `--help` lists them


def export_format(name: str) -> Callable[[Export], Export]:
    """Register an `export_<format>` function under the name `fnforge export --format` takes."""

    def register(export: Export) -> Export:
        EXPORTS[name] = export
        return export

    return register


STEP_GOES_WITH_PATCH = (
    "--step N goes with --format patch (and patch needs --step N): which step's candidate to write"
)


def _without_step(request: ExportRequest) -> None:
    if request.step is not None:
        raise RepoError(STEP_GOES_WITH_PATCH)


def import_name(raw: str) -> str:
    """A valid import name from a user's choice or a directory name (`agent-fns` -> `agent_fns`)."""
    name = re.sub(r"\W+", "_", raw.strip()).strip("_").lower() or "functions"
    return f"fn_{name}" if name[0].isdigit() else name


def declared_packages(source: str) -> list[str]:
    """The module's `PACKAGES` list, read from the AST (never by importing the module)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PACKAGES" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            return [str(v) for v in value] if isinstance(value, list | tuple) else []
    return []


def requirements(functions: dict[str, str]) -> list[str]:
    """The union of the functions' PACKAGES as distribution requirements (stdlib names dropped)."""
    reqs = set()
    for src in functions.values():
        for pkg in declared_packages(src):
            base = re.split(r"[<>=!~\[; ]", pkg, maxsplit=1)[0]
            if not base or base in sys.stdlib_module_names:
                continue
            reqs.add(_DISTRIBUTIONS.get(base, base) + pkg[len(base) :])
    return sorted(reqs)


def relative_imports(source: str) -> str:
    """`from functions.x import x` -> `from .x import x`, so the set works as one package."""
    return _SIBLING_PKG.sub(r"\1from . import", _SIBLING_FROM.sub(r"\1from .\2 import", source))


def tools(functions: dict[str, str]) -> list[dict[str, Any]]:
    """The OpenAI tool schema of every function in the set (RepoError names a broken one)."""
    out = []
    for name, src in sorted(functions.items()):
        try:
            out.append(tool_schema(src, name))
        except ValueError as e:
            raise RepoError(
                f"functions/{name}.py: cannot derive its tool schema ({e}); fix or remove it"
            ) from None
    return out


def step_of(repo: FunctionRepo, sha: str) -> int:
    """The step whose commit is `sha` (0 when it is no decided step, e.g. the first commit)."""
    for rec in reversed(repo.steps(include_rejected=True)):
        if rec.commit == sha:
            return rec.step
    return 0


def set_version(step: int, commit: str) -> str:
    """The version of a set at a step: `0.<step>+step<step>.g<commit[:12]>` (PEP 440, local part
    naming the commit). The wheel export and the MCP server both report this one string."""
    return f"0.{step}+step{step}.g{commit[:12]}"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


@export_format("wheel")
def export_wheel(repo: FunctionRepo, request: ExportRequest) -> Exported:
    """Build `<pkg>-0.<step>+step<step>.g<sha>-py3-none-any.whl` in `out` (default `dist`)."""
    _without_step(request)
    wheel = build_wheel(repo, Path(request.out or "dist"), request.name, request.ref)
    return Exported([wheel], {"path": str(wheel)})


@export_format("tools-json")
def export_tools_json(repo: FunctionRepo, request: ExportRequest) -> Exported:
    """Write the set's tool schemas as a JSON list (default `tools.json`; a directory gets one)."""
    _without_step(request)
    out = Path(request.out or "tools.json")
    if out.is_dir():
        out = out / "tools.json"
    functions = repo.functions(repo.resolve(request.ref))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(tools(functions), indent=2) + "\n", encoding="utf-8")
    return Exported([out], {"path": str(out)})


@export_format("patch")
def export_patch(repo: FunctionRepo, request: ExportRequest) -> Exported:
    """Write step `step`'s candidate as `git format-patch` files (default `step-<n>-patches/`)."""
    if request.step is None:
        raise RepoError(STEP_GOES_WITH_PATCH)
    paths = export_patches(repo, request.step, request.out or Path(f"step-{request.step}-patches"))
    details = {"step": request.step, "paths": [str(p) for p in paths]}
    return Exported(paths, details, hint=f"apply with: git am {paths[0].parent}/*.patch")


@export_format("mcp-config")
def export_mcp_config(repo: FunctionRepo, request: ExportRequest) -> Exported:
    """The `mcpServers` entry that starts `fnforge serve` for this set: printed, or written to `out`."""
    if request.ref is not None:
        repo.resolve(request.ref)  # a wrong ref fails here, not later inside the client
    snippet = json.dumps(
        mcp_config(repo.root, request.name or import_name(repo.root.name), request.ref), indent=2
    )
    if request.out is None:
        return Exported(printed=snippet)
    request.out.parent.mkdir(parents=True, exist_ok=True)
    request.out.write_text(snippet + "\n", encoding="utf-8")
    return Exported([request.out], {"path": str(request.out)})


def build_wheel(repo: FunctionRepo, out_dir: Path, package_name: str | None, ref: str | None) -> Path:
    """The wheel of the set at `ref` in `out_dir`, named by `package_name` or the repo's directory."""
    sha = repo.resolve(ref)
    functions = repo.functions(sha)
    if not functions:
        raise RepoError(
            f"the function set at {sha[:10]} is empty; nothing to export (apply some actions first)"
        )
    pkg = import_name(package_name or repo.root.name)
    step = step_of(repo, sha)
    version = set_version(step, sha)
    schemas = tools(functions)
    files: dict[str, bytes] = {}
    for name, src in functions.items():
        files[f"{pkg}/{name}.py"] = relative_imports(src).encode()
    init = [
        f'"""Functions exported by fnforge from {repo.root.name} at step {step} (commit {sha[:12]})."""',
        "",
        "import json as _json",
        "",
        *[f"from .{name} import {name}" for name in sorted(functions)],
        "",
        f"__version__ = {version!r}",
        f"__step__ = {step}",
        f"__commit__ = {sha!r}",
        f"TOOLS = _json.loads({json.dumps(schemas)!r})",
        f"__all__ = {sorted(functions) + ['TOOLS']!r}",
        "",
    ]
    files[f"{pkg}/__init__.py"] = "\n".join(init).encode()
    files[f"{pkg}/tools.json"] = (json.dumps(schemas, indent=2) + "\n").encode()
    info = f"{pkg}-{version}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {pkg}",
        f"Version: {version}",
        f"Summary: Agent functions from {repo.root.name}, step {step} (commit {sha[:12]}), exported by fnforge",
        "Requires-Python: >=3.9",
        *[f"Requires-Dist: {r}" for r in requirements(functions)],
        "",
    ]
    files[f"{info}/METADATA"] = "\n".join(meta).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: fnforge\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/top_level.txt"] = f"{pkg}\n".encode()
    record = [f"{path},{_record_hash(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{pkg}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zi = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return wheel
