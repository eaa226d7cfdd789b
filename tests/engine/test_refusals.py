"""Reading a provider's 400: the context window it states, and a refusal of the `tools` field.

The bodies are the ones these servers send (OpenAI, vLLM, llama-cpp-python's server,
llama.cpp's C++ server, Ollama); fields are read before the text.
"""

from __future__ import annotations

from fnforge.engine.llm.refusals import read_refusal


def _read(error: dict):
    return read_refusal({"error": error}, error.get("message", ""))


def test_the_window_is_read_from_the_wording_openai_vllm_and_llama_cpp_python_share() -> None:
    openai = _read(
        {
            "message": "This model's maximum context length is 1024 tokens. However, you requested 3060 "
            "tokens (3010 in the messages, 50 in the completion). Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    )
    vllm = _read(
        {
            "message": "'max_tokens' or 'max_completion_tokens' is too large: 2000. This model's maximum "
            "context length is 2048 tokens and your request has 100 input tokens (2000 > 2048 - 100).",
            "type": "BadRequestError",
            "code": 400,
        }
    )
    assert (openai.kind, openai.window) == ("context_length", 1024)
    assert (vllm.kind, vllm.window) == ("context_length", 2048)


def test_the_llama_cpp_server_field_is_read_before_its_text() -> None:
    r = _read(
        {
            "code": 400,
            "message": "request (4476 tokens) exceeds the available context size (4096 tokens)",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 4476,
            "n_ctx": 3000,  # the field wins (here made to differ from the text to show it)
        }
    )
    assert (r.kind, r.window) == ("context_length", 3000)


def test_a_context_refusal_without_a_number_is_still_one_but_states_no_window() -> None:
    r = _read({"message": "prompt is too long", "code": "context_length_exceeded"})
    assert (r.kind, r.window) == ("context_length", None)


def test_servers_without_tool_calling_are_told_apart_from_other_refusals() -> None:
    ollama = _read(
        {"message": "registry.ollama.ai/library/gemma3:4b does not support tools", "type": "api_error"}
    )
    vllm = _read(
        {"message": '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'}
    )
    openai = _read(
        {
            "message": "Unsupported parameter: 'tools' is not supported with this model.",
            "param": "tools",
            "code": "unsupported_parameter",
        }
    )
    schema = _read({"message": "Invalid schema for function 'f': array schema missing items."})
    assert [x.kind for x in (ollama, vllm, openai)] == ["tools"] * 3
    assert schema.kind == "refused" and schema.window is None
