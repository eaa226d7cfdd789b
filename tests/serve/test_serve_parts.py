"""The server's small parts without Docker: argument checks, the busy queue, the bind rule."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import anyio
import pytest

import fnforge
from fnforge.function_repo import defaulted_parameters, tool_schema
from fnforge.serve import ArgumentCheck, Busy, CallQueue, ServeError, is_loopback, require_token_off_loopback

SOURCE = '''def table_mean(rows: list[dict[str, float]], column: str, digits: int | None = None) -> float:
    """Mean of one column.

    Args:
        rows: the table
        column: which column
        digits: round to this many digits
    """
    return 0.0
'''


def _check() -> ArgumentCheck:
    schema = tool_schema(SOURCE, "table_mean")["function"]["parameters"]
    return ArgumentCheck(schema, optional=defaulted_parameters(SOURCE, "table_mean"))


def test_a_parameter_without_a_default_cannot_be_left_out_though_the_schema_requires_all():
    schema = tool_schema(SOURCE, "table_mean")["function"]["parameters"]
    assert sorted(schema["required"]) == ["column", "digits", "rows"]  # strict mode: every one listed
    assert ArgumentCheck(schema).problem({"rows": [], "column": "x"}) == "'digits' is a required property"
    assert _check().problem({"rows": []}) == "'column' is a required property"


def test_arguments_matching_the_derived_schema_pass():
    assert _check().problem({"rows": [{"x": 1.0}, {"x": 2}], "column": "x"}) is None
    assert _check().problem({"rows": [], "column": "x", "digits": None}) is None


def test_a_wrong_argument_is_named_with_its_path_and_the_schema_reason():
    assert (
        _check().problem({"rows": [{"x": "one"}], "column": "x"}) == "rows.0.x: 'one' is not of type 'number'"
    )
    assert _check().problem({"rows": []}) == "'column' is a required property"
    assert _check().problem({"rows": [], "column": "x", "sep": ","}) == (
        "unknown argument sep; the tool takes column, digits, rows"
    )


def test_the_queue_runs_up_to_its_workers_lets_some_wait_and_refuses_the_rest():
    release = threading.Event()
    started = threading.Semaphore(0)

    def blocked(n: int) -> int:
        started.release()
        release.wait(10)
        return n

    async def scenario() -> None:
        queue = CallQueue(workers=2, waiting=1)
        results: list[int] = []

        async def call(n: int) -> None:
            results.append(await queue.run(blocked, n))

        async with anyio.create_task_group() as tg:
            for n in range(3):
                tg.start_soon(call, n)
            while queue.admitted < 3:
                await anyio.sleep(0.01)
            with pytest.raises(Busy, match="all 2 sandbox workers are running calls and 1 more are waiting"):
                await queue.run(blocked, 9)
            release.set()
        assert sorted(results) == [0, 1, 2] and queue.admitted == 0
        assert await queue.run(lambda: 5) == 5

    anyio.run(scenario)


def test_only_loopback_binds_go_without_a_token():
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "192.168.1.5", "example.org"])
    require_token_off_loopback("127.0.0.1", None)
    require_token_off_loopback("0.0.0.0", "a-token")
    with pytest.raises(ServeError, match="FNFORGE_SERVE_TOKEN"):
        require_token_off_loopback("0.0.0.0", None)


def test_serving_an_empty_set_is_one_line_and_exit_2(tmp_path):
    from serve_helpers import cli

    from fnforge.function_repo import FunctionRepo

    FunctionRepo.init(tmp_path / "empty", task="gsm8k").close()
    done = cli("serve", "--repo", str(tmp_path / "empty"))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "is empty; there is nothing to serve" in done.stderr


def _imports(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
    return names


def test_serve_uses_the_store_and_the_sandbox_and_neither_of_them_knows_it():
    package = Path(fnforge.__file__).parent
    uses = {n.split(".")[1] for n in _imports(package / "serve") if n.startswith("fnforge.")}
    assert uses == {"function_repo", "sandbox", "serve"}
    for part in ("function_repo", "sandbox", "evaluators", "engine"):
        assert not [n for n in _imports(package / part) if n.startswith("fnforge.serve")], part
