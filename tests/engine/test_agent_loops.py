"""Agent loops (native tools, ReAct, direct) against the local model server and a real Docker pool."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer, last_user_text, text, tool_calls, tool_results

from fnforge.config import AgentSettings, LLMSettings, SandboxSettings, Settings
from fnforge.engine.agent import make_agent
from fnforge.engine.llm import LLMClient
from fnforge.engine.react import parse_step
from fnforge.evaluators import get_evaluator

LONG = '''"""Returns a long text."""

PACKAGES = []


def long_text(n: int) -> str:
    """Return n copies of the letter x.

    Args:
        n: how many.
    """
    return "x" * max(0, min(n, 100000))
'''

SPIN = '''"""Never returns."""

PACKAGES = []


def spin(x: int) -> int:
    """Loop forever.

    Args:
        x: ignored.
    """
    while True:
        x += 1
'''

SOLVE = '''"""Direct-mode entry point."""

PACKAGES = []


def solve(question: str) -> str:
    """Answer with the number of words in the question.

    Args:
        question: the task text.
    """
    return str(len(question.split()))
'''


@pytest.fixture(scope="module")
def gsm8k(datasets_dir: Path, tmp_path_factory):
    records = world.pick_records(datasets_dir, 3)
    path = tmp_path_factory.mktemp("data") / "t.jsonl"
    world.write_split(path, records)
    evaluator = get_evaluator("gsm8k")
    return evaluator, evaluator.load(path), records


def _settings(base_url: str, mode: str = "tools", **agent) -> Settings:
    return Settings(
        llm=LLMSettings(base_url=base_url, model="agent-model", api_key_env="FNFORGE_TEST_KEY"),
        agent=AgentSettings(mode=mode, **agent),
        sandbox=SandboxSettings(backend="docker", timeout_s=5.0),
    )


def _run(settings, functions, pool, evaluator, task):
    llm = LLMClient(settings.llm, None) if settings.agent.mode != "direct" else None

    async def go():
        agent = make_agent(settings, functions, llm=llm, pool=pool, evaluator=evaluator)
        try:
            return await agent.run(task)
        finally:
            if llm is not None:
                await llm.close()

    return asyncio.run(go())


def test_tools_agent_calls_the_function_in_the_sandbox_and_answers_with_its_result(
    docker_pool, gsm8k
) -> None:
    evaluator, tasks, records = gsm8k
    with LLMServer(world.GSM8KWorld(records)) as server:
        tr = _run(
            _settings(server.base_url), {"calculate": world.CALCULATE}, docker_pool, evaluator, tasks[0]
        )
        first, second = server.requests
    offered = first["tools"][0]["function"]
    assert offered["name"] == "calculate"
    assert offered["parameters"]["properties"]["expression"]["type"] == "string"
    assert tool_results(second) == ["72.0"]  # 48+24, computed inside the container
    assert [e["kind"] for e in tr.events] == ["task", "assistant", "tool_call", "tool_result", "assistant"]
    assert tr.output.endswith("#### 72") and evaluator.judge(tasks[0], tr.output).correct
    assert tr.turns == 2 and tr.error is None


def test_tool_errors_unknown_tools_and_bad_json_are_fed_back_to_the_model(docker_pool, gsm8k) -> None:
    evaluator, tasks, _ = gsm8k

    def script(body):
        if not tool_results(body):
            return tool_calls(
                ("calculate", {"expression": "1/0"}),
                ("no_such_tool", {}),
                ("calculate", "{not json"),
            )
        return text("#### 0")

    with LLMServer(script) as server:
        tr = _run(
            _settings(server.base_url), {"calculate": world.CALCULATE}, docker_pool, evaluator, tasks[0]
        )
        results = tool_results(server.requests[1])
    assert results[0].startswith("error: ValueError: cannot evaluate '1/0'")
    assert results[1] == "error: unknown tool 'no_such_tool'; the tools are: calculate"
    assert results[2].startswith("error: arguments for calculate are not valid JSON")
    assert tr.output == "#### 0" and tr.error is None


def test_long_results_are_cut_to_the_budget_before_the_model_sees_them(docker_pool, gsm8k) -> None:
    evaluator, tasks, _ = gsm8k

    def script(body):
        return text("done") if tool_results(body) else tool_calls(("long_text", {"n": 5000}))

    with LLMServer(script) as server:
        settings = _settings(server.base_url, result_budget_chars=300)
        _run(settings, {"long_text": LONG}, docker_pool, evaluator, tasks[0])
        seen = tool_results(server.requests[1])[0]
    assert len(seen) == 300
    assert seen.endswith("... [truncated 4702 chars]")  # 5002 chars of JSON string, 300 kept


def test_a_tool_that_never_returns_is_stopped_by_the_timeout_and_the_loop_goes_on(docker_pool, gsm8k) -> None:
    evaluator, tasks, _ = gsm8k

    def script(body):
        return text("gave up") if tool_results(body) else tool_calls(("spin", {"x": 1}))

    with LLMServer(script) as server:
        settings = _settings(server.base_url).model_copy(
            update={"sandbox": SandboxSettings(backend="docker", timeout_s=1.0)}
        )
        tr = _run(settings, {"spin": SPIN}, docker_pool, evaluator, tasks[0])
        seen = tool_results(server.requests[1])[0]
    assert seen.startswith("error: Timeout")
    assert tr.output == "gave up"


def test_max_turns_bounds_a_model_that_never_stops_calling_tools(docker_pool, gsm8k) -> None:
    evaluator, tasks, _ = gsm8k
    with LLMServer(lambda b: tool_calls(("calculate", {"expression": "1+1"}))) as server:
        tr = _run(
            _settings(server.base_url, max_turns=3),
            {"calculate": world.CALCULATE},
            docker_pool,
            evaluator,
            tasks[0],
        )
    assert server.count == 3 and tr.turns == 3
    assert tr.output is None and tr.error == "no final answer within max_turns=3"


def test_react_agent_runs_thought_action_observation_until_final_answer(docker_pool, gsm8k) -> None:
    evaluator, tasks, _ = gsm8k

    def script(body):
        last = last_user_text(body)
        if last.startswith("Observation:"):
            value = json.loads(last.removeprefix("Observation:").strip())
            return text(f"Thought: the calculator answered.\nFinal Answer: #### {value:g}")
        return text(
            'Thought: I should add.\nAction: calculate\nAction Input: {"expression": "48+24"}\n'
            "Observation: (the model must not write this)"
        )

    with LLMServer(script) as server:
        tr = _run(
            _settings(server.base_url, mode="react"),
            {"calculate": world.CALCULATE},
            docker_pool,
            evaluator,
            tasks[0],
        )
        first, second = server.requests
    assert "tools" not in first and first["stop"] == ["\nObservation:"]
    assert "calculate: Evaluate an arithmetic expression" in first["messages"][0]["content"]
    assert last_user_text(second) == "Observation: 72.0"
    assert "must not write" not in second["messages"][-2]["content"]  # invented observation dropped
    assert tr.output == "#### 72" and evaluator.judge(tasks[0], tr.output).correct


def test_react_parse_step_reads_actions_final_answers_and_plain_text() -> None:
    assert parse_step('Thought: x\nAction: add\nAction Input: {"a": 1}') == ("action", "add", '{"a": 1}')
    assert parse_step("Thought: done\nFinal Answer: 42") == ("final", "42", "")
    assert parse_step('Action: `f`\nAction Input: ```json\n{"a": 2}\n```') == ("action", "f", '{"a": 2}')
    assert parse_step("The answer is 7.") == ("text", "The answer is 7.", "")


def test_direct_mode_calls_the_entry_function_without_any_model(docker_pool, gsm8k) -> None:
    evaluator, tasks, records = gsm8k
    settings = _settings("http://127.0.0.1:9/v1", mode="direct")
    tr = _run(settings, {"solve": SOLVE}, docker_pool, evaluator, tasks[0])
    assert tr.output == str(len(records[0]["question"].split()))
    missing = _run(
        settings, {"other": SOLVE.replace("def solve", "def other")}, docker_pool, evaluator, tasks[0]
    )
    assert missing.output is None and "no entry function 'solve'" in missing.error


def test_cut_refused_and_over_window_turns_end_the_task_with_a_reason(docker_pool, gsm8k) -> None:
    from llm_server import Reply, error

    evaluator, tasks, _ = gsm8k
    cut = Reply(calls=[("calculate", '{"expression": "48 +')], finish_reason="length")
    refused = error(400, message="The response was filtered (content policy).", code="content_filter")
    cases = [("tools", cut, "truncated", "cut at max_tokens = 1024"), ("react", cut, "truncated", "cut at")]
    cases += [(mode, refused, "refused", "filtered (content policy)") for mode in ("tools", "react")]
    for mode, answer, reason, message in cases:
        with LLMServer(lambda b, a=answer: a) as server:
            tr = _run(
                _settings(server.base_url, mode),
                {"calculate": world.CALCULATE},
                docker_pool,
                evaluator,
                tasks[0],
            )
        assert (tr.reason, tr.output) == (reason, None) and message in tr.error, (mode, tr)
        assert server.count == 1 and not any(
            e["kind"] == "tool_call" for e in tr.events
        )  # a cut call never runs
    small = _settings("http://127.0.0.1:9/v1").model_copy(
        update={"llm": LLMSettings(base_url="http://127.0.0.1:9/v1", model="m", context_tokens=1100)}
    )
    tr = _run(small, {"calculate": world.CALCULATE}, docker_pool, evaluator, tasks[0])
    assert tr.reason == "context" and "exceed [llm] context_tokens = 1100" in tr.error  # never sent
