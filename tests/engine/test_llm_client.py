"""The LLM client against a real local HTTP server through the real openai SDK."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from llm_server import LLMServer, error, last_user_text, text, tool_calls

from fnforge.config import LLMSettings
from fnforge.engine.llm import (
    LLMCacheMiss,
    LLMClient,
    LLMContextLength,
    LLMError,
    LLMRefused,
    LLMUnavailable,
)

# One tool list for both requests: the offline replay must see the very request that was cached.
ADD_TOOLS = [
    {
        "type": "function",
        "function": {"name": "add", "description": "", "parameters": {"type": "object", "properties": {}}},
    }
]


def _settings(server: LLMServer, **kw) -> LLMSettings:
    base = dict(base_url=server.base_url, model="agent-m", api_key_env="FNFORGE_TEST_KEY", max_retries=3)
    base.update(kw)
    return LLMSettings(**base)


def test_reply_is_cached_and_a_second_identical_request_sends_nothing(tmp_path: Path) -> None:
    with LLMServer(lambda b: text("echo " + last_user_text(b))) as server:
        client = LLMClient(_settings(server), tmp_path / "cache")

        async def go():
            a = await client.chat([{"role": "user", "content": "hi"}])
            b = await client.chat([{"role": "user", "content": "hi"}])
            c = await client.chat([{"role": "user", "content": "other"}])
            await client.close()
            return a, b, c

        a, b, c = asyncio.run(go())
    assert a.content == b.content == "echo hi" and c.content == "echo other"
    assert not a.cached and b.cached
    assert server.count == 2
    assert client.usage.http_requests == 2 and client.usage.cache_hits == 1 and client.usage.calls == 3


def test_offline_replays_the_cache_and_a_miss_is_an_error_without_any_request(tmp_path: Path) -> None:
    with LLMServer(lambda b: tool_calls(("add", {"a": 1, "b": 2}))) as server:
        live = LLMClient(_settings(server), tmp_path / "cache")

        async def first():
            r = await live.chat([{"role": "user", "content": "q"}], tools=ADD_TOOLS)
            await live.close()
            return r

        r1 = asyncio.run(first())
        offline = LLMClient(_settings(server), tmp_path / "cache", offline=True)
        r2 = asyncio.run(offline.chat([{"role": "user", "content": "q"}], tools=ADD_TOOLS))
        with pytest.raises(LLMCacheMiss, match="offline"):
            asyncio.run(offline.chat([{"role": "user", "content": "never asked"}]))
        assert server.count == 1
    assert r2.tool_calls[0].name == "add" and json.loads(r2.tool_calls[0].arguments) == {"a": 1, "b": 2}
    assert r1.as_message() == r2.as_message()
    assert offline.usage.http_requests == 0


def test_429_and_500_are_retried_with_backoff_then_succeed(tmp_path: Path) -> None:
    answers = [error(429), error(500), text("ok")]
    with LLMServer(lambda b: answers.pop(0)) as server:
        client = LLMClient(_settings(server), tmp_path / "c", backoff_s=0.01)
        reply = asyncio.run(client.chat([{"role": "user", "content": "x"}]))
    assert reply.content == "ok"
    assert server.count == 3 and client.usage.retries == 2


def test_a_reply_slower_than_the_timeout_is_retried(tmp_path: Path) -> None:
    delays = [text("late", delay_s=1.0), text("in time")]
    with LLMServer(lambda b: delays.pop(0)) as server:
        client = LLMClient(_settings(server, timeout_s=0.3), tmp_path / "c", backoff_s=0.01)
        reply = asyncio.run(client.chat([{"role": "user", "content": "x"}]))
    assert reply.content == "in time"
    assert server.count == 2 and client.usage.retries == 1


def test_a_429_with_retry_after_waits_as_long_as_the_endpoint_asks(tmp_path: Path) -> None:
    import time

    answers = [error(429, retry_after="0.6"), text("ok")]
    with LLMServer(lambda b: answers.pop(0)) as server:
        client = LLMClient(_settings(server), tmp_path / "c", backoff_s=0.001)
        t0 = time.perf_counter()
        reply = asyncio.run(client.chat([{"role": "user", "content": "x"}]))
        waited = time.perf_counter() - t0
    assert reply.content == "ok" and server.count == 2
    assert waited >= 0.6


def test_a_bad_request_is_a_refusal_with_the_providers_message_and_is_not_retried(tmp_path: Path) -> None:
    with LLMServer(lambda b: error(400)) as server:
        client = LLMClient(_settings(server), tmp_path / "c", backoff_s=0.01)
        with pytest.raises(LLMRefused, match="HTTP 400.*scripted 400") as caught:
            asyncio.run(client.chat([{"role": "user", "content": "x"}]))
        assert not isinstance(caught.value, LLMContextLength)
        assert caught.value.provider_message == "scripted 400"
        offline = LLMClient(_settings(server), tmp_path / "c", offline=True)
        with pytest.raises(LLMRefused, match="scripted 400"):  # the refusal replays from the cache
            asyncio.run(offline.chat([{"role": "user", "content": "x"}]))
    assert server.count == 1


def test_retries_stop_at_max_retries(tmp_path: Path) -> None:
    with LLMServer(lambda b: error(503)) as server:
        client = LLMClient(_settings(server, max_retries=2), tmp_path / "c", backoff_s=0.01)
        with pytest.raises(LLMError, match="503 after 3 attempts"):
            asyncio.run(client.chat([{"role": "user", "content": "x"}]))
    assert server.count == 3


def test_unreachable_endpoint_is_one_clear_error(tmp_path: Path) -> None:
    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", max_retries=1)
    client = LLMClient(settings, tmp_path / "c", backoff_s=0.01)
    with pytest.raises(LLMError, match="did not answer.*base_url"):
        asyncio.run(client.chat([{"role": "user", "content": "x"}]))


def test_the_key_reaches_the_endpoint_but_is_never_written_to_disk(tmp_path: Path, monkeypatch) -> None:
    secret = "sk-test-SECRET-4242-never-on-disk"
    monkeypatch.setenv("FNFORGE_TEST_KEY", secret)
    with LLMServer(lambda b: text("fine")) as server:
        client = LLMClient(_settings(server), tmp_path / "cache")
        asyncio.run(client.chat([{"role": "user", "content": "x"}]))
    assert server.headers[0]["authorization"] == f"Bearer {secret}"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files, "the cache wrote nothing"
    for p in files:
        assert secret not in p.read_text(encoding="utf-8", errors="replace")


def test_cost_follows_the_price_table(tmp_path: Path) -> None:
    with LLMServer(lambda b: text("x" * 400)) as server:
        s = _settings(server, prices={"agent-m": {"input": 1000.0, "output": 2000.0}})
        client = LLMClient(s, tmp_path / "c")
        before = client.usage.copy()
        asyncio.run(client.chat([{"role": "user", "content": "y" * 400}]))
        step = client.usage - before
    assert step.prompt_tokens > 0 and step.completion_tokens > 0
    expected = (step.prompt_tokens * 1000.0 + step.completion_tokens * 2000.0) / 1e6
    assert step.cost_usd == pytest.approx(expected)


def test_concurrency_limit_bounds_requests_in_flight(tmp_path: Path) -> None:
    import threading
    import time

    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def script(body):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return text("ok")

    with LLMServer(script) as server:
        client = LLMClient(_settings(server, concurrency=3), None)

        async def go():
            await asyncio.gather(*(client.chat([{"role": "user", "content": str(i)}]) for i in range(12)))

        asyncio.run(go())
    assert server.count == 12
    assert state["max"] == 3


def test_the_cache_key_covers_every_field_of_the_request() -> None:
    from fnforge.engine.llm import request_key

    base = LLMClient(LLMSettings(), None).request([{"role": "user", "content": "q"}], tools=None)
    keys = {request_key(base)}
    for field, value in [
        ("model", "other"),
        ("messages", [{"role": "user", "content": "q2"}]),
        ("temperature", 0.7),
        ("seed", 1),
        ("max_tokens", 7),
        ("tools", [{"type": "function", "function": {"name": "f"}}]),
        ("stop", ["\nObservation:"]),
    ]:
        keys.add(request_key({**base, field: value}))
    assert len(keys) == 8
    assert request_key(dict(reversed(list(base.items())))) == request_key(base)  # order does not matter


def test_a_context_length_400_is_its_own_refusal(tmp_path: Path) -> None:
    too_long = error(
        400,
        message="This model's maximum context length is 4096 tokens. However, you requested 9000 tokens.",
        code="context_length_exceeded",
    )
    with LLMServer(lambda b: too_long) as server:
        client = LLMClient(_settings(server), tmp_path / "c")
        with pytest.raises(LLMContextLength, match="maximum context length is 4096"):
            asyncio.run(client.chat([{"role": "user", "content": "x"}]))
    assert server.count == 1 and client.usage.refusals == 1


def test_rate_limits_wait_as_asked_saying_so_and_then_pause_the_run(tmp_path: Path) -> None:
    answers = [text("first"), error(429, retry_after="1"), text("second"), error(429, retry_after="30")]
    lines: list[str] = []
    with LLMServer(lambda b: answers.pop(0)) as server:
        client = LLMClient(_settings(server, max_wait_s=5), tmp_path / "c", on_wait=lines.append)

        async def go():
            a = await client.chat([{"role": "user", "content": "a"}])
            b = await client.chat([{"role": "user", "content": "b"}])
            try:
                await client.chat([{"role": "user", "content": "c"}])
            finally:
                await client.close()
            return a, b

        with pytest.raises(LLMUnavailable, match="rate limited.*--resume.*max_wait_s") as err:
            asyncio.run(go())
    assert err.value.rate_limited
    assert lines == ["rate limited, waiting 1 s"]  # the 30 s wait is over max_wait_s: not waited
    assert server.count == 4 and 1.0 <= client.usage.waited_s < 2.0


def test_cached_replies_count_apart_and_cost_nothing(tmp_path: Path) -> None:
    with LLMServer(lambda b: text("y" * 800)) as server:
        s = _settings(server, prices={"agent-m": {"input": 1000.0, "output": 2000.0}})
        first = LLMClient(s, tmp_path / "c")
        asyncio.run(first.chat([{"role": "user", "content": "q" * 400}]))
        again = LLMClient(s, tmp_path / "c")
        asyncio.run(again.chat([{"role": "user", "content": "q" * 400}]))
    assert first.usage.cost_usd > 0 and first.usage.cached_tokens == 0
    assert again.usage.cost_usd == 0 and again.usage.prompt_tokens == again.usage.completion_tokens == 0
    assert again.usage.cached_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert again.usage.to_dict()["tokens"] == 0 and server.count == 1
