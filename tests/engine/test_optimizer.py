"""The AgentOptimizer: its prompt file, tool-call actions, re-asks on malformed output, scripted replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import gsm8k_world as world
import pytest
from llm_server import LLMServer, tool_calls

from fnforge.config import LLMSettings, Settings, TrainingSettings
from fnforge.engine.llm import LLMClient
from fnforge.engine.optimizer import (
    LLMOptimizer,
    OptimizerContext,
    ScriptedProposer,
    StepSummary,
    check_actions,
    render_prompt,
)
from fnforge.engine.transcripts import Transcript


def _ctx(**kw) -> OptimizerContext:
    ok = Transcript(task_id="1", mode="tools", output="#### 72", correct=True, reference="72", extracted="72")
    ok.add("task", text="Natalia sold clips ...")
    bad = Transcript(
        task_id="2", mode="tools", output="#### 12", correct=False, reference="10", extracted="12"
    )
    bad.add("task", text="Weng earns $12 an hour ...")
    bad.add("tool_call", name="calculate", arguments='{"expression": "12*50"}')
    bad.add("tool_result", name="calculate", ok=False, content="error: ValueError: boom")
    base = dict(
        position=2,
        task_name="gsm8k",
        task_example="Natalia sold clips to 48 of her friends ...",
        functions={"calculate": world.CALCULATE},
        history=[
            StepSummary(
                1, "accepted", None, "validation improved", 0.0, 0.5, ["add calculate"], ["calculate"]
            ),
            StepSummary(
                2,
                "rejected",
                "property",
                "returns str, expected float; falsifying example: calculate(expression='0')",
                None,
                None,
                ["revise calculate"],
            ),
        ],
        transcripts=[ok, bad],
        train_score=0.5,
        packages=["numpy", "sympy"],
        stdlib=["math", "re", "statistics"],
    )
    base.update(kw)
    return OptimizerContext(**base)


def _settings(base_url: str = "http://127.0.0.1:9/v1", **training) -> Settings:
    return Settings(
        llm=LLMSettings(base_url=base_url, optimizer_model="optimizer-model", api_key_env="FNFORGE_TEST_KEY"),
        training=TrainingSettings(**{"max_actions": 2, "optimizer_retries": 1, **training}),
    )


def test_the_prompt_is_the_template_file_filled_with_code_history_transcripts_and_rules() -> None:
    prompt = render_prompt(_ctx(), _settings())
    template = (Path(__file__).parents[2] / "fnforge/engine/prompts/optimizer.txt").read_text()
    assert template.splitlines()[0] in prompt
    assert "## functions/calculate.py" in prompt and "def calculate(expression: str) -> float:" in prompt
    assert (
        "- step 1: add calculate -> accepted (validation 0.000 -> 0.500); the set became: calculate" in prompt
    )
    assert "- step 2: revise calculate -> rejected at property: returns str" in prompt
    assert (
        "task 2: WRONG" in prompt
        and "expected: 10  got: 12" in prompt
        and "error: ValueError: boom" in prompt
    )
    assert "task 1: correct" in prompt
    assert (
        "at most 2 edits" in prompt
        and "standard modules: math, re, statistics; and these packages: numpy, sympy" in prompt
    )
    assert "$" + "functions" not in prompt  # every placeholder filled


def test_transcripts_are_sampled_within_the_budget() -> None:
    many = []
    for i in range(40):
        t = Transcript(task_id=str(i), mode="tools", correct=False, reference="1", extracted="2")
        t.add("task", text="q" * 1000)
        many.append(t)
    prompt = render_prompt(_ctx(transcripts=many), _settings(), budget_chars=3000)
    assert prompt.count("WRONG") <= 4
    assert len(prompt) < len(render_prompt(_ctx(transcripts=[]), _settings())) + 3000


def test_check_actions_names_what_is_wrong() -> None:
    fns = {"calculate": world.CALCULATE}
    good = (
        "add_function",
        json.dumps({"name": "describe_number", "description": "d", "code": world.DESCRIBE}),
    )
    assert [a.summary for a in check_actions([good], fns, 2)] == ["add describe_number"]
    cases = {
        "at most 2 are allowed": [good, good, good],
        "unknown tool 'delete_everything'": [("delete_everything", "{}")],
        "arguments are not valid JSON": [("add_function", "{oops")],
        "the code does not parse": [("add_function", json.dumps({"name": "broken", "code": world.BROKEN}))],
        "calculate exists already; use revise_function": [
            ("add_function", json.dumps({"name": "calculate", "code": world.CALCULATE}))
        ],
        "there is no function ghost to remove": [("remove_function", json.dumps({"name": "ghost"}))],
        "no edits": [],
    }
    for expected, raw in cases.items():
        with pytest.raises(ValueError, match=expected):
            check_actions(raw, fns, 2)


def test_malformed_output_is_re_asked_with_the_error_then_accepted(tmp_path: Path) -> None:
    answers = [
        tool_calls(("add_function", {"name": "broken", "code": world.BROKEN})),
        tool_calls(("add_function", {"name": "describe_number", "description": "d", "code": world.DESCRIBE})),
    ]
    with LLMServer(lambda b: answers.pop(0)) as server:
        settings = _settings(server.base_url)
        proposal = asyncio.run(LLMOptimizer(LLMClient(settings.llm, None), settings).propose(_ctx()))
        second = server.requests[1]
    assert [a.summary for a in proposal.actions] == ["add describe_number"]
    assert proposal.attempts == 2 and "does not parse" in proposal.errors[0]
    assert second["model"] == "optimizer-model"
    assert {t["function"]["name"] for t in second["tools"]} == {
        "add_function",
        "revise_function",
        "remove_function",
        "no_change",
    }
    roles = [m["role"] for m in second["messages"]]
    assert roles == ["user", "user"]  # the prompt and the one re-ask message: never growing
    assert "does not parse" in second["messages"][-1]["content"]
    assert second["temperature"] > server.requests[0]["temperature"]  # a re-ask samples hotter


def test_after_the_retries_the_proposal_carries_the_error(tmp_path: Path) -> None:
    bad = tool_calls(("add_function", {"name": "broken", "code": world.BROKEN}))
    with LLMServer(lambda b: bad) as server:
        settings = _settings(server.base_url, optimizer_retries=2)
        proposal = asyncio.run(LLMOptimizer(LLMClient(settings.llm, None), settings).propose(_ctx()))
    assert server.count == 3
    assert proposal.actions is None and proposal.attempts == 3
    assert proposal.error.startswith("malformed optimizer output after 3 attempts: edit 1 (add broken)")


def test_scripted_proposer_replays_steps_in_order_and_then_says_it_is_exhausted(tmp_path: Path) -> None:
    path = tmp_path / "edits.json"
    path.write_text(
        json.dumps(
            [
                [
                    {
                        "action": "add_function",
                        "name": "calculate",
                        "description": "c",
                        "code": world.CALCULATE,
                    }
                ],
                [{"action": "add_function", "description": "no name"}],
                [],
            ]
        )
    )
    proposer = ScriptedProposer(path)
    first = asyncio.run(proposer.propose(_ctx(position=0)))
    second = asyncio.run(proposer.propose(_ctx(position=1)))
    third = asyncio.run(proposer.propose(_ctx(position=2)))
    fourth = asyncio.run(proposer.propose(_ctx(position=3)))
    assert [a.summary for a in first.actions] == ["add calculate"]
    assert second.actions is None and "scripted step 2" in second.error
    assert third.actions is None and third.error.startswith("scripted step 3: the list of actions is empty")
    assert fourth.exhausted


def test_a_missing_scripted_edits_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scripted_edits: .*not found; fix the path"):
        ScriptedProposer(tmp_path / "nope.json")


def test_the_prompt_budget_gives_way_in_the_stated_order() -> None:
    from fnforge.engine.optimizer_prompt import function_stub
    from fnforge.engine.tokens import estimate_tokens

    history = [
        StepSummary(s, "rejected", "validation", "no improvement", 0.5, 0.5, [f"add f{s}"])
        for s in range(1, 31)
    ]
    fns = {"calculate": world.CALCULATE, "describe_number": world.DESCRIBE}
    ctx = _ctx(functions=fns, history=history)
    full = render_prompt(ctx, _settings())
    size = estimate_tokens(full)
    assert render_prompt(ctx, _settings(), budget_tokens=size) == full  # fits: nothing given away
    gone: dict[str, int] = {}  # the largest budget at which each part is gone
    for budget in range(size, 0, -10):
        prompt = render_prompt(ctx, _settings(), budget_tokens=budget)
        assert estimate_tokens(prompt) <= budget or "signature and docstring: calculate, describe" in prompt
        present = {
            "oldest history": "- step 1: add f1" in prompt,
            "all history": "- step 30: add f30" in prompt,
            "successes": "task 1: correct" in prompt,
            "failures": "task 2: WRONG" in prompt,
            "uninvolved body": function_stub("describe_number", world.DESCRIBE) not in prompt,
            "involved body": "def _tokens" in prompt,  # calculate failed in task 2
        }
        for part, there in present.items():
            if not there:
                gone.setdefault(part, budget)
        if budget < size - 40:
            assert "earlier steps not shown)" in prompt
    order = sorted(gone, key=lambda p: -gone[p])
    assert order == [
        "oldest history",
        "all history",
        "successes",
        "failures",
        "uninvolved body",
        "involved body",
    ]
    assert gone["oldest history"] > gone["all history"] > gone["successes"] > gone["failures"]


def test_cut_replies_are_re_asked_for_fewer_edits_then_rejected_with_the_limit(tmp_path: Path) -> None:
    from llm_server import Reply

    cut = Reply(calls=[("add_function", '{"name": "calculate", "code": "def calc')], finish_reason="length")
    with LLMServer(lambda b: cut) as server:
        settings = _settings(server.base_url)
        proposal = asyncio.run(LLMOptimizer(LLMClient(settings.llm, None), settings).propose(_ctx()))
    assert proposal.actions is None and proposal.error == "reply cut at 8192 tokens" and proposal.cut
    assert server.count == 2 and "fewer or shorter edits" in server.requests[1]["messages"][-1]["content"]
    assert server.requests[0]["max_tokens"] == 8192


def test_no_change_and_refusals_end_the_step_without_retries(tmp_path: Path) -> None:
    from llm_server import error, text

    cases = [
        (tool_calls(("no_change", {"reason": "nothing to fix"})), "no edit proposed", 1),
        (text("These functions look fine to me."), "no edit proposed", 1),
        (error(400, message="Invalid schema for function 'add_function'"), "request refused by the provider: "
         "Invalid schema for function 'add_function'", 1),
        (error(400, message="maximum context length is 10 tokens", code="context_length_exceeded"),
         "prompt refused as too long even fitted to the stated window of 10 tokens", 2),
        (error(400, message="the prompt is too long", code="context_length_exceeded"),
         "prompt refused as too long even at half the budget", 2),
    ]  # fmt: skip
    for answer, reason, requests in cases:
        with LLMServer(lambda b, a=answer: a) as server:
            settings = _settings(server.base_url)
            proposal = asyncio.run(LLMOptimizer(LLMClient(settings.llm, None), settings).propose(_ctx()))
        assert proposal.actions is None and proposal.error.startswith(reason), proposal.error
        assert not proposal.cut
        assert server.count == requests
        if requests == 2:  # asked again once, with a prompt half the size
            a, b = (len(r["messages"][0]["content"]) for r in server.requests)
            assert b < a
    assert proposal.no_change is False


def test_combined_proposals_are_shown_two_failures_each_and_one_proposal_keeps_four() -> None:
    from fnforge.engine.optimizer_prompt import failures_shown

    many = []
    for i in range(40):
        t = Transcript(task_id=str(i), mode="tools", correct=False, reference="1", extracted="2")
        t.add("task", text=f"question {i}")
        many.append(t)
    assert [failures_shown(k, combine=True) for k in (1, 2, 3, 4)] == [4, 4, 6, 8]
    assert failures_shown(4, combine=False) == 4  # the prompt of earlier runs, so their replay holds
    for k, combine in ((4, True), (4, False)):
        ctx = _ctx(transcripts=many, failures=failures_shown(k, combine))
        assert render_prompt(ctx, _settings()).count("WRONG") == failures_shown(k, combine)


def test_involved_sources_show_whole_only_the_functions_the_failures_touched() -> None:
    from fnforge.engine.optimizer_prompt import function_stub

    describe = world.DESCRIBE + "".join(f"# a long module: line {i}\n" for i in range(100))
    fns = {"calculate": world.CALCULATE, "describe_number": describe}
    lean = Settings(
        llm=LLMSettings(optimizer_model="optimizer-model", optimizer_sources="involved"),
        training=TrainingSettings(max_actions=2),
    )
    whole, cut = render_prompt(_ctx(functions=fns), _settings()), render_prompt(_ctx(functions=fns), lean)
    assert "def _tokens" in whole and "def _tokens" in cut  # calculate failed in task 2: shown whole
    assert function_stub("describe_number", describe) in cut and "line 99" not in cut
    assert function_stub("describe_number", describe) not in whole and "line 99" in whole
    assert "(not involved in the failures shown, 1 function(s) show only signature and docstring" in cut
    assert len(cut) < len(whole)
