"""How the optimizer is asked for edits (`[llm] optimizer_protocol`), against the scripted server.

`json` asks for one JSON list of `fnforge apply` actions in a fenced block and sends no tools;
`auto` asks with tools and, after a reply with text but no tool call, once more in json; a
server that refuses the `tools` field switches `auto` to json for the rest of the run and
stops a `tools` run with the setting to change. Malformed JSON is a recorded rejection after
its re-asks, like a malformed tool call.
"""

from __future__ import annotations

import asyncio
import json

import gsm8k_world as world
import pytest
from llm_server import LLMServer, text, tool_calls
from test_optimizer import _ctx

from fnforge.config import LLMSettings, Settings, TrainingSettings
from fnforge.engine.llm import LLMClient, LLMError
from fnforge.engine.optimizer import NO_EDIT, LLMOptimizer

DESCRIBE = {"action": "add_function", "name": "describe_number", "description": "d", "code": world.DESCRIBE}


def _settings(base_url: str, protocol: str, retries: int = 1) -> Settings:
    return Settings(
        llm=LLMSettings(
            base_url=base_url,
            optimizer_model="optimizer-model",
            api_key_env="FNFORGE_TEST_KEY",
            optimizer_protocol=protocol,
        ),
        training=TrainingSettings(max_actions=2, optimizer_retries=retries),
    )


def _block(obj: object) -> str:
    return f"Here are my edits.\n\n```json\n{json.dumps(obj)}\n```\n"


def _propose(server: LLMServer, protocol: str, retries: int = 1, steps: int = 1):
    """`steps` proposals of one optimizer (one client, one event loop), as a run asks them."""
    settings = _settings(server.base_url, protocol, retries)
    client = LLMClient(settings.llm, None)
    optimizer = LLMOptimizer(client, settings)

    async def ask() -> list:
        try:
            return [await optimizer.propose(_ctx()) for _ in range(steps)]
        finally:
            await client.close()

    proposals = asyncio.run(ask())
    return proposals[0] if steps == 1 else proposals


def test_json_asks_without_tools_and_reads_the_apply_schema_from_the_fenced_block() -> None:
    with LLMServer(lambda b: text(_block([DESCRIBE]))) as server:
        proposal = _propose(server, "json")
        [request] = server.requests
    assert [a.summary for a in proposal.actions] == ["add describe_number"]
    assert "tools" not in request
    prompt = request["messages"][0]["content"]
    assert "ONE JSON list" in prompt and "add_function, revise_function or remove_function" in prompt
    assert "call no_change" not in prompt  # the tool-call wording is not there
    assert proposal.note()["protocol"] == "json" and "protocol_switch" not in proposal.note()


def test_json_accepts_the_looser_forms_apply_takes_and_an_empty_list_is_no_edit() -> None:
    answers = [
        text(json.dumps({"actions": [{**DESCRIBE, "action": "add"}]})),  # bare, wrapped, the short verb
        text("Nothing would help now.\n```json\n[]\n```"),
    ]
    with LLMServer(lambda b: answers.pop(0)) as server:
        first, second = _propose(server, "json", steps=2)
    assert [a.summary for a in first.actions] == ["add describe_number"]
    assert second.actions is None and second.error == NO_EDIT and second.no_change


def test_malformed_json_is_re_asked_with_the_error_then_recorded_as_a_rejection() -> None:
    bad = text('```json\n[{"action": "add_function", "name": "f", "code": "def f(\n```')
    with LLMServer(lambda b: bad) as server:
        proposal = _propose(server, "json", retries=1)
        second = server.requests[1]
    assert server.count == 2 and proposal.actions is None
    assert proposal.error.startswith(
        "malformed optimizer output after 2 attempts: the JSON block is not valid JSON"
    )
    assert [m["role"] for m in second["messages"]] == ["user", "user"]  # prompt + one re-ask, never growing
    assert (
        "not valid JSON" in second["messages"][1]["content"] and "```json" in second["messages"][1]["content"]
    )


def test_json_without_a_block_and_edits_the_set_refuses_are_rejections_with_their_reasons() -> None:
    cases = {
        "no ```json block in the reply": text("I would add a function that formats numbers."),
        "there is no function nothing_here to revise": text(
            _block(
                [
                    {
                        "action": "revise_function",
                        "name": "nothing_here",
                        "code": "def nothing_here() -> int: ...",
                    }
                ]
            )
        ),
        "the code does not parse": text(_block([{**DESCRIBE, "code": world.BROKEN}])),
    }
    for reason, answer in cases.items():
        with LLMServer(lambda b, a=answer: a) as server:
            proposal = _propose(server, "json", retries=0)
        assert proposal.actions is None and reason in proposal.error, (reason, proposal.error)
        assert proposal.error.startswith("malformed optimizer output after 1 attempts")


def test_auto_asks_once_more_in_json_after_prose_and_records_the_switch() -> None:
    def script(body: dict):
        if body.get("tools"):
            return text("The calculator looks fine; maybe the agent should think harder.")
        return text(_block([DESCRIBE]))

    with LLMServer(script) as server:
        proposal = _propose(server, "auto", retries=0)  # the json ask is not a retry
        first, second = server.requests
    assert first.get("tools") and "tools" not in second
    assert "ONE JSON list" in second["messages"][0]["content"] and len(second["messages"]) == 1
    assert [a.summary for a in proposal.actions] == ["add describe_number"]
    note = proposal.note()
    assert note["protocol"] == "json"
    assert note["protocol_switch"] == "tools -> json: the reply had text and no tool call"


def test_auto_keeps_tool_calls_and_no_change_as_they_are() -> None:
    answers = [tool_calls(("add_function", {**DESCRIBE})), tool_calls(("no_change", {"reason": "fine"}))]
    with LLMServer(lambda b: answers.pop(0)) as server:
        edited, unchanged = _propose(server, "auto", steps=2)
    assert server.count == 2 and all(r.get("tools") for r in server.requests)
    assert [a.summary for a in edited.actions] == ["add describe_number"] and edited.protocol == "tools"
    assert unchanged.error == NO_EDIT and unchanged.protocol_switch is None


def test_auto_against_a_server_without_tools_asks_in_json_for_the_rest_of_the_run() -> None:
    with LLMServer(lambda b: text(_block([DESCRIBE])), refuse_tools=True) as server:
        first, second = _propose(server, "auto", steps=2)
        tools_sent = [bool(r.get("tools")) for r in server.requests]
    assert tools_sent == [True, False, False]  # refused once, then json only
    assert (
        [a.summary for a in first.actions] == ["add describe_number"] == [a.summary for a in second.actions]
    )
    assert "does not support tools" in first.protocol_switch and second.protocol_switch is None


def test_tools_against_a_server_without_tools_is_one_line_naming_the_setting() -> None:
    with LLMServer(lambda b: text("unused"), refuse_tools=True) as server:
        settings = _settings(server.base_url, "tools")
        optimizer = LLMOptimizer(LLMClient(settings.llm, None), settings)
        with pytest.raises(LLMError) as err:
            asyncio.run(optimizer.propose(_ctx()))
    message = str(err.value)
    assert "\n" not in message and "does not support tools" in message
    assert 'optimizer_protocol = "json"' in message


def test_a_window_too_small_for_the_full_rules_gets_the_compact_prompt_with_its_failures() -> None:
    from fnforge.engine.optimizer_prompt import prompt_fit, render_prompt
    from fnforge.engine.optimizer_protocol import JsonListProtocol
    from fnforge.engine.tokens import estimate_tokens

    settings = _settings("http://127.0.0.1:9/v1", "json")
    ctx = _ctx(history=[])
    answer = JsonListProtocol().answer_format()
    fit = prompt_fit(settings, None, 1024)  # a 1,024-token local model: 256 for the reply
    full = render_prompt(ctx, settings, answer_format=answer)
    small = render_prompt(ctx, settings, budget_tokens=fit.budget_tokens, answer_format=answer)
    assert fit.reply_tokens == 256 and estimate_tokens(small) <= fit.budget_tokens < estimate_tokens(full)
    assert "Rules every function must follow" in full and "Rules every function must follow" not in small
    assert "ONE public function" in small and "ONE JSON list" in small  # the rules, short, and the format
    assert "Weng earns" in small  # the failure came back with the compact template
