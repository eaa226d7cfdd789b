"""What can go wrong asking a model, sorted by what the caller can do about it.

`LLMContextLength` (a 400 for a prompt over the context window: shrink it and ask again;
it carries the window when the refusal states one), `LLMToolsRefused` (a 400 for the request's
`tools` field: this server or model cannot call tools; ask without tools or say how to configure
that), `LLMRefused` (any other 400: a filter, a schema the provider does not take; record it and
go on), `LLMUnavailable` (still rate limited or unreachable after the retries, on an endpoint
that had answered before: pause the run, `--resume` later) and plain `LLMError` (the user must
fix something: the key, the URL, the model name). Only these cross the `llm` package's
border, never the SDK's own exceptions.
"""

from __future__ import annotations


class LLMError(RuntimeError):
    """The model endpoint failed in a way retries cannot fix (bad key, bad URL, bad request)."""


class LLMCacheMiss(LLMError):
    """Offline replay asked for a request that the cache does not hold."""


class LLMRefused(LLMError):
    """The endpoint refused this request (HTTP 400: a content filter, a schema it does not take).

    Retrying the same request cannot help, but the run can go on: the caller records the
    refusal (`provider_message`) against the step or task that made the request.
    """

    def __init__(self, text: str, provider_message: str):
        super().__init__(text)
        self.provider_message = provider_message


class LLMContextLength(LLMRefused):
    """HTTP 400 because the prompt (plus the reply budget) exceeds the model's context window.

    `window` is the window in tokens when the refusal states it ("maximum context length is N
    tokens"); the client has then learned it for the model (`LLMClient.windows`).
    """

    def __init__(self, text: str, provider_message: str, window: int | None = None):
        super().__init__(text, provider_message)
        self.window = window


class LLMToolsRefused(LLMRefused):
    """HTTP 400 for the request's `tools` field: the server or its model cannot call tools."""


class LLMUnavailable(LLMError):
    """An endpoint that answered before is rate limited or down beyond the retries and waits.

    Nothing is wrong with the setup or the request: the run stops as interrupted and
    `fnforge train --resume` continues it later (cached replies cost nothing then).
    """


REFUSAL_CONTEXT = "context_length"
REFUSAL_TOOLS = "tools"
REFUSAL_OTHER = "refused"
