"""`fnforge serve --transport http`: the SDK's streamable-HTTP client, loopback by default, a token otherwise."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from serve_helpers import FNFORGE, cli, env, exercise

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@contextmanager
def http_server(root: Path, token: str | None = None) -> Iterator[str]:
    """Start `fnforge --json serve --transport http --port 0`; yield its URL once it listens."""
    extra = {"FNFORGE_SERVE_TOKEN": token} if token else {}
    proc = subprocess.Popen(
        [FNFORGE, "--json", "serve", "--transport", "http", "--port", "0", "--repo", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env(), **extra},
    )  # fmt: skip
    try:
        line = proc.stdout.readline()  # the first line is the listening event (or nothing on failure)
        assert line, f"the server ended before listening: {proc.stderr.read()}"
        event = json.loads(line)
        assert event["event"] == "listening" and event["step"] == 1
        assert event["url"].startswith("http://127.0.0.1:") and event["url"].endswith("/mcp")
        yield event["url"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


def _client(token: str | None = None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0))


def test_http_lists_the_exported_tools_survives_timeout_bad_arguments_and_crash_and_refuses_rebinding(
    served_root,
):
    with http_server(served_root) as url:

        async def scenario() -> None:
            async with (
                _client() as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await exercise(session, served_root)
            async with _client() as http:  # a page on a rebound DNS name cannot reach the loopback server
                ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
                rebound = await http.post(url, json=ping, headers={"Host": "attacker.example"})
                assert rebound.status_code == 421

        anyio.run(scenario)


def test_with_a_token_set_requests_without_it_get_401_and_with_it_are_served(served_root):
    with http_server(served_root, token="s3cret-for-tests") as url:

        async def scenario() -> None:
            async with _client() as anonymous:
                refused = await anonymous.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            async with _client("wrong") as wrong:
                assert (
                    await wrong.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
                ).status_code == 401
            async with (
                _client("s3cret-for-tests") as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                res = await session.call_tool("add_numbers", {"a": 1, "b": 1})
                assert not res.is_error and res.content[0].text == "2"

        anyio.run(scenario)


def test_a_non_loopback_bind_without_a_token_is_refused_before_anything_starts(served_root):
    done = cli("serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0", "--repo", str(served_root))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "--host 0.0.0.0 can be reached from other machines; set FNFORGE_SERVE_TOKEN" in done.stderr


def test_help_says_a_non_loopback_bind_needs_the_token():
    done = cli("serve", "--help")
    text = " ".join(done.stdout.replace("│", " ").split())  # rich wraps the help in boxes
    assert done.returncode == 0
    assert "127.0.0.1 unless --host says otherwise. Any other host needs a bearer token" in text
    assert "FNFORGE_SERVE_TOKEN" in text
