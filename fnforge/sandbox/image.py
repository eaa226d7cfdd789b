"""The sandbox image: Python with hypothesis, sympy, numpy and pandas, built with or without a registry.

Where a container registry answers, the image is a small Dockerfile on `python:3.11-slim`.
Machines without one (CI here) bootstrap a Debian root filesystem from the host's own apt
mirror with debootstrap and `docker import` it. Either way the image carries labels: the
recipe's content hash (so `build_image` skips a current image) and the Python packages it
holds (so the policy gate can refuse imports that would fail inside).

The worker is not baked in: each container mounts the `worker` package read-only, so the
image never lags behind the worker.

Beside each image (keyed by its id, under the user's cache directory) lies what its allowed
modules hold that are modules (`image_module_facts`): computed inside the image by
`module_walker.py` when the image is built or first used, read back as JSON, and handed to
the policy gate as data.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pkgutil
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from fnforge.config import SandboxSettings
from fnforge.sandbox.module_facts import FactsUnreadable, ModuleFacts, facts_from_json
from fnforge.sandbox.policy import STDLIB_ALLOWED
from fnforge.sandbox.results import SandboxUnavailable

SANDBOX_UID = 10001
# pandas: LLM-written tools for tables reach for DataFrames (they must arrive as JSON, e.g.
# list[list[str]], and become a DataFrame inside the function).
APT_PACKAGES = ["python3", "python3-hypothesis", "python3-sympy", "python3-numpy", "python3-pandas"]
PIP_PACKAGES = ["hypothesis", "sympy", "numpy", "pandas"]
LABEL_RECIPE = "fnforge.recipe"
LABEL_PACKAGES = "fnforge.packages"
LABEL_SANDBOX = "fnforge.sandbox"
RECIPE_VERSION = "3"  # bump when the recipe below changes in a way the hash cannot see

DOCKERFILE = f"""\
FROM python:3.11-slim
RUN pip install --no-cache-dir {" ".join(PIP_PACKAGES)} \\
 && groupadd -g {SANDBOX_UID} fnforge && useradd -u {SANDBOX_UID} -g {SANDBOX_UID} -d /tmp -s /usr/sbin/nologin fnforge
USER {SANDBOX_UID}:{SANDBOX_UID}
WORKDIR /tmp
"""

Progress = Callable[[str], None]


def recipe_hash() -> str:
    """The content hash of everything that decides what the image holds."""
    text = "\n".join([RECIPE_VERSION, DOCKERFILE, *APT_PACKAGES, str(SANDBOX_UID)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def docker_client():
    """A docker SDK client on whatever API version the engine negotiates, or None."""
    try:
        import docker

        client = docker.from_env(version="auto", timeout=120)
        client.ping()
        return client
    except Exception:
        return None


def image_labels(settings: SandboxSettings, client=None) -> dict[str, str] | None:
    """The labels of the configured image, or None when there is no such image."""
    client = client or docker_client()
    if client is None:
        return None
    try:
        return dict(client.images.get(settings.image).labels or {})
    except Exception:
        return None


def image_is_current(settings: SandboxSettings, client=None) -> bool:
    """True when the configured image exists and was built from the current recipe."""
    labels = image_labels(settings, client)
    return bool(labels) and labels.get(LABEL_RECIPE) == recipe_hash()


def host_packages() -> list[str]:
    """Top-level third-party import names on this interpreter (the process backend's set)."""
    std = set(sys.stdlib_module_names)
    names = {m.name for m in pkgutil.iter_modules() if not m.name.startswith("_") and m.name not in std}
    return sorted(names)


def image_packages(settings: SandboxSettings) -> list[str]:
    """The Python packages code may import inside the sandbox this settings object selects.

    For the Docker backend, read from the image's label; for the process backend (or `auto`
    without a usable image), the host interpreter's own packages.
    """
    if settings.backend != "process":
        labels = image_labels(settings)
        if labels and labels.get(LABEL_PACKAGES):
            return sorted(p for p in labels[LABEL_PACKAGES].split(",") if p)
        if settings.backend == "docker":
            raise SandboxUnavailable(
                f"sandbox image {settings.image!r} not found or unlabelled; run `fnforge sandbox build`"
            )
    return host_packages()


WALKER = Path(__file__).with_name("module_walker.py")
WALK_BUDGET_S = 240.0
_FACTS: dict[str, ModuleFacts] = {}  # this process's facts, by cache key


def facts_cache_dir() -> Path:
    """Where the module facts of each image are kept ($XDG_CACHE_HOME/fnforge/module-facts)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fnforge" / "module-facts"


def image_module_facts(settings: SandboxSettings, progress: Progress | None = None) -> ModuleFacts:
    """Which attributes of the allowed modules are modules, in the sandbox `settings` selects.

    Computed once per image (or, for the process backend, per host interpreter and package
    set) by running `module_walker.py` there, then read from the cache beside it: the policy
    gate gets plain dicts. Raises SandboxUnavailable where image_packages would.
    """
    say = progress or (lambda _msg: None)
    if settings.backend != "process":
        client = docker_client()
        try:
            image = client.images.get(settings.image) if client is not None else None
        except Exception:
            image = None
        facts = _facts_of_image(client, image, say) if image is not None else None
        if facts is not None:
            return facts
        if settings.backend == "docker":
            raise SandboxUnavailable(
                f"sandbox image {settings.image!r} not found or unlabelled; run `fnforge sandbox build`"
            )
    allowed = sorted(STDLIB_ALLOWED | set(host_packages()))
    interpreter = hashlib.sha256(f"{sys.executable} {sys.version}".encode()).hexdigest()[:16]
    return _cached_facts(f"host-{interpreter}", allowed, lambda: _walk_on_host(allowed), say)


def _facts_of_image(client, image, say: Progress) -> ModuleFacts | None:
    packages = (image.labels or {}).get(LABEL_PACKAGES, "")
    if not packages:
        return None
    allowed = sorted(STDLIB_ALLOWED | {p for p in packages.split(",") if p})
    run = lambda: _walk_in_image(client, image.id, allowed)  # noqa: E731
    return _cached_facts(image.id.replace("sha256:", ""), allowed, run, say)


def _cached_facts(image_key: str, allowed: list[str], run: Callable[[], str], say: Progress) -> ModuleFacts:
    recipe = hashlib.sha256((json.dumps(allowed) + WALKER.read_text()).encode()).hexdigest()[:16]
    key = f"{image_key[:32]}-{recipe}"
    if key in _FACTS:
        return _FACTS[key]
    path = facts_cache_dir() / f"{key}.json"
    facts = None
    if path.is_file():
        try:
            facts = facts_from_json(path.read_text())
        except (OSError, FactsUnreadable):
            facts = None  # a damaged cache entry is computed again
    if facts is None:
        say("computing which attributes of the allowed modules are modules (once per image)")
        try:
            facts = facts_from_json(run())
        except FactsUnreadable as e:
            raise SandboxUnavailable(f"{e}; rebuild the image with `fnforge sandbox build --force`") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(facts.to_json())
        partial.replace(path)  # entries of older walkers stay: checkouts of other versions share the folder
    _FACTS[key] = facts
    return facts


def _walk_in_image(client, image_id: str, allowed: list[str]) -> str:
    """The walker's stdout, read from the attach stream (a log driver may cut a long line)."""
    container = client.containers.create(
        image_id,
        ["python3", "-c", WALKER.read_text(), json.dumps(allowed), str(WALK_BUDGET_S)],
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": "size=16m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        user=f"{SANDBOX_UID}:{SANDBOX_UID}",
        environment={},
        mem_limit="1g",
        pids_limit=64,
        labels={LABEL_SANDBOX: "module-walker"},
    )
    try:
        stream = container.attach(stdout=True, stderr=False, stream=True, logs=True)
        container.start()
        out = b"".join(stream)
        container.wait(timeout=WALK_BUDGET_S + 120)
    finally:
        container.remove(force=True)
    return out.decode("utf-8", "replace")


def _walk_on_host(allowed: list[str]) -> str:
    with tempfile.TemporaryDirectory(prefix="fnforge-walk-") as tmp:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", WALKER.read_text(), json.dumps(allowed), str(WALK_BUDGET_S)],
            capture_output=True,
            text=True,
            cwd=tmp,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp},
            timeout=WALK_BUDGET_S + 120,
        )
    return proc.stdout


def apt_mirror(root: Path = Path("/etc/apt")) -> tuple[str, str]:
    """(mirror URL, suite) of the host's main Debian archive, read from its apt sources."""
    stanzas: list[tuple[str, list[str]]] = []
    for path in sorted((root / "sources.list.d").glob("*.sources")):
        for block in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields = dict(
                (m.group(1).lower(), m.group(2).strip())
                for m in re.finditer(r"^([A-Za-z-]+):[ \t]*(.*)$", block, re.M)
            )
            if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
                continue
            for uri in fields.get("uris", "").split():
                stanzas.append((uri, fields.get("suites", "").split()))
    lists = [root / "sources.list", *sorted((root / "sources.list.d").glob("*.list"))]
    for path in lists:
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    stanzas.append((m.group(1), [m.group(2)]))
    for uri, suites in stanzas:
        plain = [s for s in suites if "-" not in s and "/" not in s]
        if plain and "security" not in uri:
            return uri, plain[0]
    raise SandboxUnavailable(
        "no Debian mirror found in /etc/apt/sources.list(.d); the offline image build needs the "
        "host's apt sources (or a reachable container registry)"
    )


def registry_reachable(host: str = "registry-1.docker.io", timeout: float = 3.0) -> bool:
    """True when a container registry answers (then the Dockerfile build is used)."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def build_image(settings: SandboxSettings, progress: Progress | None = None, force: bool = False) -> str:
    """Build the sandbox image unless a current one exists; return the image id.

    Also computes (or finds cached) the image's module facts, so the first step does not wait.
    Raises SandboxUnavailable when no Docker engine answers or the build cannot run here.
    """
    say = progress or (lambda _msg: None)
    client = docker_client()
    if client is None:
        raise SandboxUnavailable(
            'no Docker engine answers; start one (e.g. `dockerd &`) or set [sandbox] backend = "process"'
        )
    if not force and image_is_current(settings, client):
        image = client.images.get(settings.image)
        say(f"image {settings.image} is current ({recipe_hash()}); nothing to build")
    elif registry_reachable():
        say("a registry answers: building from python:3.11-slim")
        image = client.images.get(_build_from_dockerfile(client, settings, say))
    else:
        say("no registry reachable: bootstrapping Debian from the host's apt mirror")
        image = client.images.get(_build_with_debootstrap(client, settings, say))
    facts = _facts_of_image(client, image, say)
    if facts is not None:
        say(f"{sum(1 for _ in facts.forbidden_chains())} attribute chains lead out of the allowed modules")
    return image.id


def _build_from_dockerfile(client, settings: SandboxSettings, say: Progress) -> str:
    labels = {LABEL_RECIPE: recipe_hash(), LABEL_PACKAGES: "", LABEL_SANDBOX: "image"}
    image, logs = client.images.build(
        fileobj=io.BytesIO(DOCKERFILE.encode()), tag=settings.image, labels=labels, rm=True, pull=True
    )
    for entry in logs:
        if entry.get("stream", "").strip():
            say(entry["stream"].strip())
    packages = _list_packages_in_container(client, image.id)
    labels[LABEL_PACKAGES] = ",".join(packages)
    # Labels cannot be edited in place: re-tag through a one-line build that adds the list.
    image, _ = client.images.build(
        fileobj=io.BytesIO(f"FROM {image.id}\n".encode()), tag=settings.image, labels=labels, rm=True
    )
    return image.id


def _list_packages_in_container(client, image_id: str) -> list[str]:
    code = (
        "import pkgutil,sys;std=set(sys.stdlib_module_names);"
        "print(','.join(sorted({m.name for m in pkgutil.iter_modules() "
        "if not m.name.startswith('_') and m.name not in std})))"
    )
    out = client.containers.run(image_id, ["python3", "-c", code], remove=True, network_mode="none")
    return [p for p in out.decode().strip().split(",") if p]


def _dist_packages(rootfs: Path) -> list[str]:
    names: set[str] = set()
    for site in rootfs.glob("usr/lib/python3*/dist-packages"):
        for entry in site.iterdir():
            name = entry.name
            if name.startswith("_") or name.endswith((".dist-info", ".egg-info", ".pth")):
                continue
            if entry.is_dir() and ((entry / "__init__.py").exists() or any(entry.glob("*.py"))):
                names.add(name)
            elif name.endswith(".py"):
                names.add(name[:-3])
            elif ".cpython-" in name and name.endswith(".so"):
                names.add(name.split(".", 1)[0])
    return sorted(names)


def _build_with_debootstrap(client, settings: SandboxSettings, say: Progress) -> str:
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailable("debootstrap is not installed; run `apt-get install -y debootstrap`")
    if os.geteuid() != 0:
        raise SandboxUnavailable("the offline image build (debootstrap) needs root; run it as root")
    mirror, suite = apt_mirror()
    say(f"debootstrap {suite} from {mirror} (about a minute)")
    work = Path(tempfile.mkdtemp(prefix="fnforge-image-", dir="/var/tmp"))
    rootfs = work / "rootfs"
    try:
        cmd = [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(APT_PACKAGES),
            suite,
            str(rootfs),
            mirror,
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-15:]
            if line.startswith("I: ") and any(
                k in line for k in ("Retrieving", "Validating", "Installing", "Configuring", "Base system")
            ):
                say(line[3:])
        if proc.wait() != 0:
            raise SandboxUnavailable("debootstrap failed:\n" + "\n".join(tail))
        _finish_rootfs(rootfs)
        packages = _dist_packages(rootfs)
        say(
            f"python packages in the image: {', '.join(p for p in packages if p in PIP_PACKAGES)} (+{len(packages) - len(PIP_PACKAGES)} more)"
        )
        tar_path = work / "rootfs.tar"
        say("packing the root filesystem")
        subprocess.run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tar_path), "."], check=True)
        say(f"docker import as {settings.image}")
        repo, _, tag = (
            settings.image.rpartition(":")
            if ":" in settings.image.split("/")[-1]
            else (settings.image, "", "latest")
        )
        changes = [
            f"LABEL {LABEL_RECIPE}={recipe_hash()}",
            f"LABEL {LABEL_PACKAGES}={','.join(packages)}",
            f"LABEL {LABEL_SANDBOX}=image",
            f"USER {SANDBOX_UID}:{SANDBOX_UID}",
            "WORKDIR /tmp",
            "ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1",
            'CMD ["python3"]',
        ]
        client.api.import_image_from_file(str(tar_path), repository=repo, tag=tag, changes=changes)
        image = client.images.get(settings.image)
        say(f"built {settings.image} {image.short_id}")
        return image.id
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _finish_rootfs(rootfs: Path) -> None:
    """Add the non-root user and drop what a sandbox never needs (apt caches, docs)."""
    with open(rootfs / "etc/passwd", "a") as f:
        f.write(f"fnforge:x:{SANDBOX_UID}:{SANDBOX_UID}:fnforge sandbox:/tmp:/usr/sbin/nologin\n")
    with open(rootfs / "etc/group", "a") as f:
        f.write(f"fnforge:x:{SANDBOX_UID}:\n")
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        target = rootfs / sub
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)
