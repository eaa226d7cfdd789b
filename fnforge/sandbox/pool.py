"""A pool of warm sandbox workers: the one way the rest of fnforge runs untrusted functions.

`open_pool(settings)` picks a backend (Docker when an engine answers and the image exists,
else the weaker process backend with a visible warning), starts `size` workers, and hands
out `call` and `proptest`. Both are thread-safe: each borrows a worker for the duration of
one request. A worker that breaks a limit or stops answering is killed and replaced in the
background; the request that caused it gets the error as a value.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from fnforge.config import SandboxSettings
from fnforge.protocol import set_hash
from fnforge.sandbox.backend import RUNNER_MODULES, Sandbox
from fnforge.sandbox.results import CallResult, PropertyFailure, PropertyReport, SandboxUnavailable
from fnforge.sandbox.transport import RequestNotSent, WorkerClient, WorkerLost, WorkerSilent

GRACE_S = 3.0  # the host waits this much longer than the worker's own deadline
START_TIMEOUT_S = 30.0


class WeakSandboxWarning(UserWarning):
    """The process backend is in use: functions are not isolated by a container."""


class SandboxPool:
    """Warm workers behind one backend; `call` and `proptest` are safe from many threads."""

    def __init__(self, backend: Sandbox, settings: SandboxSettings, size: int):
        self.backend = backend
        self.settings = settings
        self.size = size
        self._idle: queue.Queue[WorkerClient | None] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._replacing: list[threading.Thread] = []
        self._runner = [[p.stem, p.read_text(encoding="utf-8")] for p in RUNNER_MODULES]
        self._started = 0
        with ThreadPoolExecutor(max_workers=min(size, 8)) as ex:
            workers = list(ex.map(lambda _i: self._start_or_none(), range(size)))
        if not any(workers):
            self.close()
            raise SandboxUnavailable(f"could not start any {backend.name} sandbox worker: {self._last_error}")
        for w in workers:
            self._idle.put(w)

    @property
    def workers_started(self) -> int:
        """How many workers this pool has started (size at first; +1 per replacement)."""
        return self._started

    @property
    def backend_name(self) -> str:
        """ "docker" or "process": which isolation answers the calls."""
        return self.backend.name

    # ------------------------------------------------------------ workers

    _last_error = ""

    def _start(self) -> WorkerClient:
        with self._lock:
            self._started += 1
            n = self._started
        transport = self.backend.start_worker()
        client = WorkerClient(transport, name=f"{self.backend.name} worker {n}")
        pong = client.request({"op": "ping"}, START_TIMEOUT_S)
        if not pong.get("ok"):
            client.kill()
            raise WorkerLost(f"worker did not start: {pong}")
        client.info = pong  # type: ignore[attr-defined]
        return client

    def _start_or_none(self) -> WorkerClient | None:
        try:
            return self._start()
        except Exception as e:  # reported by whoever borrows the empty slot
            self._last_error = f"{type(e).__name__}: {e}"
            return None

    def _replace_later(self) -> None:
        def run() -> None:
            w = self._start_or_none()
            if self._closed and w is not None:
                w.kill()
                return
            self._idle.put(w)

        t = threading.Thread(target=run, name="fnforge-sandbox-replace", daemon=True)
        with self._lock:
            self._replacing = [x for x in self._replacing if x.is_alive()] + [t]
        t.start()

    @contextmanager
    def _worker(self) -> Iterator[WorkerClient]:
        if self._closed:
            raise SandboxUnavailable("the sandbox pool is closed")
        w = self._idle.get()
        if w is None or w.broken:
            try:
                w = self._start()
            except Exception as e:
                self._idle.put(None)
                raise RequestNotSent(f"could not start a sandbox worker: {type(e).__name__}: {e}") from None
        try:
            yield w
        finally:
            if w.broken:
                if not self._closed:
                    self._replace_later()
            elif self._closed:
                w.kill()
            else:
                self._idle.put(w)

    # ------------------------------------------------------------ calls

    def call(
        self, functions: Mapping[str, str], name: str, args: dict[str, Any], timeout: float | None = None
    ) -> CallResult:
        """Call `name` from the set `functions` with JSON `args` in a warm worker.

        Never raises for what the function does: timeouts, limits, crashes and exceptions
        come back as a failed CallResult whose error.type names what stopped it.
        """
        timeout = float(timeout or self.settings.timeout_s)
        started = time.monotonic()
        try:
            json.dumps(args, allow_nan=False)
        except (TypeError, ValueError) as e:
            return CallResult.failed("NotJSON", f"the arguments are not JSON: {e}")
        if name not in functions:
            return CallResult.failed(
                "NameError", f"no function {name!r} in the set; it has {sorted(functions)}"
            )
        key = set_hash(functions)  # the worker keeps a loaded set by it
        message = {"op": "call", "set": key, "name": name, "args": args, "timeout": timeout}
        try:
            with self._worker() as w:
                try:
                    reply = w.request(message, timeout + GRACE_S)
                    for _attempt in range(2):  # a worker may drop a set (e.g. after a fork bomb)
                        if (reply.get("error") or {}).get("type") != "NotLoaded":
                            break
                        loaded = self._load(w, key, functions)
                        if loaded is not None:
                            return loaded
                        reply = w.request(message, timeout + GRACE_S)
                except WorkerLost as e:
                    return CallResult.failed(
                        "Timeout" if isinstance(e, WorkerSilent) else "Crashed",
                        f"{e}; the worker was replaced",
                        duration_s=time.monotonic() - started,
                        retryable=isinstance(e, RequestNotSent),
                    )
        except WorkerLost as e:
            return CallResult.failed(
                "Crashed",
                str(e),
                duration_s=time.monotonic() - started,
                retryable=isinstance(e, RequestNotSent),
            )
        return _call_result(reply)

    def _load(self, w: WorkerClient, key: str, functions: Mapping[str, str]) -> CallResult | None:
        load_timeout = max(self.settings.timeout_s, 10.0)
        reply = w.request(
            {"op": "load", "set": key, "modules": dict(functions), "timeout": load_timeout},
            load_timeout + GRACE_S,
        )
        if reply.get("ok"):
            return None
        error = reply.get("error") or {}
        return CallResult.failed(
            str(error.get("type", "Crashed")),
            "loading the function set: " + str(error.get("message", "")),
            stdout=str(reply.get("stdout", "")),
        )

    def proptest(
        self,
        functions: Mapping[str, str],
        tests: Mapping[str, str],
        changed: list[str],
        examples: int,
        timeout: float,
        call_timeout: float | None = None,
    ) -> PropertyReport:
        """Run the derived properties and the set's own tests for `changed` in the sandbox.

        `timeout` bounds the whole run (the host's wall clock); `call_timeout` (default: the
        settings' per-call limit) bounds each single call of a function.
        """
        started = time.monotonic()
        message = {
            "op": "proptest",
            "modules": dict(functions),
            "tests": dict(tests),
            "changed": list(changed),
            "examples": int(examples),
            "timeout": float(timeout),
            "call_timeout": float(call_timeout or self.settings.timeout_s),
            "runner": self._runner,
        }
        try:
            with self._worker() as w:
                reply = w.request(message, float(timeout) + GRACE_S + 2.0)
        except WorkerLost as e:
            return PropertyReport(
                passed=False,
                duration_s=time.monotonic() - started,
                failures=[PropertyFailure(function=",".join(changed), property="sandbox", message=str(e))],
            )
        return _property_report(reply, changed, time.monotonic() - started)

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Kill every worker and remove its container; safe to call twice."""
        self._closed = True
        for t in list(self._replacing):
            t.join(timeout=START_TIMEOUT_S)
        doomed = []
        while True:
            try:
                w = self._idle.get_nowait()
            except queue.Empty:
                break
            if w is not None:
                doomed.append(w)
        if doomed:
            with ThreadPoolExecutor(max_workers=min(len(doomed), 8)) as ex:
                list(ex.map(lambda w: w.kill(), doomed))
        self.backend.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _call_result(reply: dict[str, Any]) -> CallResult:
    stdout = str(reply.get("stdout", ""))
    duration = float(reply.get("duration_s", 0.0) or 0.0)
    if reply.get("ok"):
        try:
            value = json.loads(reply.get("value_json", "null"))
        except (ValueError, RecursionError) as e:
            return CallResult.failed(
                "NotJSON", f"the return value could not be read as JSON: {e}", stdout, duration
            )
        return CallResult(ok=True, value=value, stdout=stdout, duration_s=duration)
    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    return CallResult.failed(
        str(error.get("type", "Crashed")),
        str(error.get("message", "")),
        stdout=stdout,
        duration_s=duration,
        retryable=reply.get("retryable") is True,  # the worker's word: no child took the call
    )


def _property_report(reply: dict[str, Any], changed: list[str], duration: float) -> PropertyReport:
    report = reply.get("report")
    if not reply.get("ok") or not isinstance(report, dict):
        error = reply.get("error") or {}
        return PropertyReport(
            passed=False,
            duration_s=duration,
            failures=[
                PropertyFailure(
                    function=",".join(changed),
                    property="property runner",
                    message=f"{error.get('type', 'Crashed')}: {error.get('message', '')}".strip(),
                )
            ],
        )
    failures = [PropertyFailure.model_validate(f) for f in report.get("failures", []) if isinstance(f, dict)]
    return PropertyReport(
        passed=bool(report.get("passed")) and not failures,
        failures=failures,
        checked=[str(c) for c in report.get("checked", [])],
        notes=[str(n) for n in report.get("notes", [])],
        budget_exhausted=report.get("budget_exhausted") is True,
        duration_s=duration,
    )


def choose_backend(settings: SandboxSettings) -> Sandbox:
    """The backend `settings.backend` asks for; `auto` falls back to processes with a warning."""
    from fnforge.sandbox.process_backend import WEAKER, ProcessSandbox

    if settings.backend in ("docker", "auto"):
        from fnforge.sandbox.docker_backend import DockerSandbox

        try:
            return DockerSandbox(settings)
        except SandboxUnavailable as e:
            if settings.backend == "docker":
                raise
            warnings.warn(f"{WEAKER} ({e})", WeakSandboxWarning, stacklevel=3)
            return ProcessSandbox(settings)
    warnings.warn(WEAKER, WeakSandboxWarning, stacklevel=3)
    return ProcessSandbox(settings)


def open_pool(settings: SandboxSettings, size: int | None = None) -> SandboxPool:
    """A started pool of `size` (default: settings.pool) warm workers; use as a context manager.

    Raises SandboxUnavailable (with what to do) when the configured backend cannot run.
    """
    backend = choose_backend(settings)
    return SandboxPool(backend, settings, size or settings.pool)
