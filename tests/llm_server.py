"""A real OpenAI-compatible HTTP server on loopback, scripted per test.

The engine talks to models only through the real `openai` client, and the tests never
patch that client. Instead a test starts this server (stdlib `http.server` in a thread),
gives it a *script* (a function from the request body to a reply), points
`[llm] base_url` at it, and afterwards reads what was asked (`server.requests`) and how
often. The same server answers the throughput benchmark with a fixed latency.

A script returns `text("...")`, `tool_calls(("name", {...}), ...)`, or `error(429)`;
anything else it returns is sent as the assistant message's content.

`refuse_tools=True` makes the server one without tool calling: any request with a `tools`
field is refused with HTTP 400 before the script sees it, worded as Ollama words it for a
model whose template has no tools ("<model> does not support tools").
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the scripted model answers: assistant text, tool calls, or an HTTP error."""

    content: str | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    retry_after: str | None = None
    message: str | None = None  # an error's message (default "scripted <status>")
    code: str | None = None  # an error's code, e.g. "context_length_exceeded"
    type: str | None = None  # an error's type (default "invalid_request_error" for a 400)
    finish_reason: str | None = None  # default: "tool_calls" with calls, else "stop"


def text(content: str, delay_s: float = 0.0) -> Reply:
    """An assistant message with plain text content."""
    return Reply(content=content, delay_s=delay_s)


def tool_calls(*calls: tuple[str, Any], content: str | None = None) -> Reply:
    """An assistant message calling tools; each call is (name, arguments dict or raw string)."""
    return Reply(content=content, calls=list(calls))


def error(
    status: int,
    retry_after: str | None = None,
    *,
    message: str | None = None,
    code: str | None = None,
    type_: str | None = None,
) -> Reply:
    """An HTTP error response (e.g. 429 or 500) to exercise retries, with an optional Retry-After,
    and the message, code and type a provider writes into its JSON error body."""
    return Reply(status=status, retry_after=retry_after, message=message, code=code, type=type_)


def no_tools(model: str) -> Reply:
    """The 400 of a server whose model cannot call tools, in Ollama's words."""
    return error(400, message=f"registry.ollama.ai/library/{model} does not support tools", type_="api_error")


Script = Callable[[dict], Any]


def last_user_text(body: dict) -> str:
    """The text of the last user message of a request (what the script usually reacts to)."""
    for msg in reversed(body.get("messages", [])):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            return content or ""
    return ""


def tool_names(body: dict) -> list[str]:
    """Names of the tools offered in a request."""
    return [t["function"]["name"] for t in body.get("tools") or []]


def tool_results(body: dict) -> list[str]:
    """Contents of the tool messages in a request, in order."""
    return [m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "tool"]


class LLMServer:
    """A threaded /v1/chat/completions endpoint on 127.0.0.1 that counts and records requests.

    `script(body)` decides each reply; `delay_s` is added to every reply (the benchmark's
    200 ms model); `on_request(body)` runs first (a test uses it to kill a client mid-step).
    A request with `n` > 1 gets n choices, the script asked once per choice, as OpenAI does;
    `honours_n=False` answers one choice whatever `n` says, as many other endpoints do.
    The tokens it reports are counted in `prompt_tokens` and `completion_tokens`.
    """

    def __init__(
        self,
        script: Script,
        *,
        delay_s: float = 0.0,
        on_request: Script | None = None,
        honours_n: bool = True,
        refuse_tools: bool = False,
    ):
        self.script = script
        self.refuse_tools = refuse_tools
        self.delay_s = delay_s
        self.on_request = on_request
        self.honours_n = honours_n
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.tokens_by_model: dict[str, list[int]] = {}  # model -> [prompt, completion]
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._ids = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:  # a client killed while sending
                    self._send(400, {"error": {"message": "request body is not JSON"}})
                    return
                with server._lock:
                    server.requests.append(body)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server._ids += 1
                    ident = server._ids
                if server.on_request is not None:
                    server.on_request(body)
                n = int(body.get("n") or 1) if server.honours_n else 1
                if server.refuse_tools and body.get("tools"):
                    replies = [no_tools(body.get("model", "scripted"))]
                else:
                    replies = [server.script(body) for _ in range(max(1, n))]
                replies = [r if isinstance(r, Reply) else Reply(content=str(r)) for r in replies]
                reply = replies[0]
                if server.delay_s or reply.delay_s:
                    time.sleep(server.delay_s + reply.delay_s)
                if reply.status != 200:
                    extra = {"Retry-After": reply.retry_after} if reply.retry_after else {}
                    body = {
                        "error": {
                            "message": reply.message or f"scripted {reply.status}",
                            "type": reply.type
                            or ("invalid_request_error" if reply.status == 400 else "scripted"),
                            "param": None,
                            "code": reply.code,
                        }
                    }
                    self._send(reply.status, body, extra)
                    return
                self._send(200, server._completion(body, replies, ident))

            def _send(self, status: int, obj: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode()
                try:
                    self.send_response(status)
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many clients connect at once in the concurrency benchmark

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-request (the SIGKILL tests) is expected, not news

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _choice(self, reply: Reply, ident: int, index: int) -> tuple[dict, int]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if reply.calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{ident}_{index}_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(reply.calls)
            ]
            finish = "tool_calls"
        finish = reply.finish_reason or finish
        tokens = max(1, len(json.dumps(message)) // 4)
        return {"index": index, "message": message, "finish_reason": finish, "logprobs": None}, tokens

    def _completion(self, body: dict, replies: list[Reply], ident: int) -> dict:
        choices = [self._choice(r, ident, i) for i, r in enumerate(replies)]
        # as a provider counts them: the messages and the tool schemas, about 4 bytes a token
        sent = len(json.dumps(body.get("messages", []))) + len(json.dumps(body.get("tools") or []))
        prompt_tokens = max(1, sent // 4)
        completion_tokens = sum(tokens for _, tokens in choices)
        with self._lock:
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens
            counts = self.tokens_by_model.setdefault(str(body.get("model")), [0, 0])
            counts[0] += prompt_tokens
            counts[1] += completion_tokens
        return {
            "id": f"chatcmpl-{ident}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "scripted"),
            "choices": [choice for choice, _ in choices],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    @property
    def base_url(self) -> str:
        """The endpoint to put in `[llm] base_url`."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def count(self) -> int:
        """How many chat completion requests arrived."""
        with self._lock:
            return len(self.requests)

    def cost_usd(self, prices: dict[str, dict[str, float]]) -> float:
        """Dollars of every answered request at these prices (USD per million tokens), by the tokens reported."""
        with self._lock:
            counts = {m: list(c) for m, c in self.tokens_by_model.items()}
        return sum(
            (p * prices.get(m, {}).get("input", 0.0) + c * prices.get(m, {}).get("output", 0.0)) / 1e6
            for m, (p, c) in counts.items()
        )

    def requests_for(self, model: str) -> list[dict]:
        """The recorded requests that asked for `model`."""
        with self._lock:
            return [r for r in self.requests if r.get("model") == model]

    def start(self) -> LLMServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(script: Script, delay_s: float = 0.0) -> None:  # pragma: no cover - manual use
    """Run a server in the foreground (for trying the CLI by hand)."""
    with LLMServer(script, delay_s=delay_s) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()
