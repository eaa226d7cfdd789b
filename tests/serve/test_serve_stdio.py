"""`fnforge serve` over stdio, driven by the SDK's real MCP client with real Docker workers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import docker
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from serve_helpers import FNFORGE, cli, env, exercise, make_repo, text_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _server(root: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=FNFORGE, args=["serve", "--repo", str(root), *extra], env=env())


def _server_pids(root: Path) -> list[int]:
    """The pids of `fnforge serve` processes serving `root` (read from /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(root).encode() in argv:
            pids.append(int(cmdline.parent.name))
    return pids


def test_stdio_lists_the_exported_tools_and_survives_timeout_bad_arguments_and_crash(served_root):
    async def scenario() -> None:
        async with stdio_client(_server(served_root)) as (read, write), ClientSession(read, write) as session:
            await exercise(session, served_root)

    anyio.run(scenario)


def test_calls_past_the_pool_and_the_queue_are_told_busy_and_later_calls_run(tmp_path, sandbox_image):
    root = make_repo(tmp_path / "busy-fns", pool=2).root

    async def scenario() -> None:
        async with (
            stdio_client(_server(root, "--queue", "0")) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            results = []

            async def nap() -> None:
                results.append(await session.call_tool("nap", {"seconds": 1.5}))

            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(nap)
            busy = [r for r in results if r.is_error]
            assert len(busy) == 1 and text_of(busy[0]).startswith("busy: all 2 sandbox workers are running")
            assert sorted(json.loads(text_of(r)) for r in results if not r.is_error) == [1.5, 1.5]
            after = await session.call_tool("nap", {"seconds": 0.1})
            assert not after.is_error and json.loads(text_of(after)) == 0.1

    anyio.run(scenario)


def test_the_mcp_config_export_starts_a_working_server_and_it_cleans_up_when_the_client_leaves(served_root):
    done = cli("export", "--format", "mcp-config", "--repo", str(served_root), "--ref", "1")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["agent_fns"]
    assert entry["command"] == FNFORGE
    assert entry["args"] == ["serve", "--repo", str(served_root.resolve()), "--ref", "1"]
    pids: list[int] = []

    async def scenario() -> None:
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env())
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            assert [t.name for t in (await session.list_tools()).tools] == [
                "add_numbers",
                "crash",
                "hog",
                "nap",
                "spin",
            ]
            res = await session.call_tool("add_numbers", {"a": 40, "b": 2})
            assert json.loads(text_of(res)) == 42
            pids.extend(_server_pids(served_root))

    anyio.run(scenario)
    assert len(pids) == 1
    deadline = time.monotonic() + 15
    while _server_pids(served_root) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _server_pids(served_root), "the server outlived its client"
    owners = [
        c.labels.get("fnforge.owner", "")
        for c in docker.from_env().containers.list(all=True, filters={"label": "fnforge.sandbox=1"})
    ]
    assert not [o for o in owners if f":{pids[0]}:" in o], "the server left its sandbox containers behind"


def test_a_ref_that_is_not_a_step_is_one_line_and_exit_2(served_root):
    done = cli("serve", "--repo", str(served_root), "--ref", "99")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "step 99 does not exist" in done.stderr
