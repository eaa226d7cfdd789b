"""The chat-model protocol: the driver's client and the Ray relay's client are both what agents take."""

from __future__ import annotations

import inspect

from fnforge.config import LLMSettings
from fnforge.engine.executors.ray.relay import RelayedLLM
from fnforge.engine.llm import ChatModel, LLMClient


def _options(chat) -> list[tuple[str, object]]:
    params = list(inspect.signature(chat).parameters.values())[1:]  # after self
    return [(p.name, p.kind) for p in params]


def test_the_client_and_the_relays_client_take_the_same_chat_options_as_the_protocol():
    assert isinstance(LLMClient(LLMSettings(), None), ChatModel)
    relayed = RelayedLLM(relay=None, settings=LLMSettings())
    assert isinstance(relayed, ChatModel) and relayed.usage.calls == 0
    assert _options(LLMClient.chat) == _options(RelayedLLM.chat) == _options(ChatModel.chat)
