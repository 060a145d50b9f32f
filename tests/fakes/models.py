"""A scripted model client for turn tests: the real port, no network."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from services.model_clients.port import (
    GenerationParams,
    ModelError,
    ModelErrorKind,
    PromptMessage,
    StreamEvent,
    TextDelta,
    Usage,
)


class ScriptedModel:
    """Streams `words` with `delay` between them; fails after `fail_after` words when set."""

    label = "Scripted test model"
    is_demo = False

    def __init__(
        self,
        words: list[str] | None = None,
        *,
        delay: float = 0.0,
        first_token_delay: float = 0.0,
        fail_after: int | None = None,
    ) -> None:
        self.words = words if words is not None else ["Hello", " there", "!"]
        self.delay = delay
        self.first_token_delay = first_token_delay
        self.fail_after = fail_after
        self.calls: list[list[PromptMessage]] = []
        self.release = threading.Event()
        self.release.set()

    def stream_chat(
        self, messages: list[PromptMessage], params: GenerationParams, *, user_token: str | None = None
    ) -> Iterator[StreamEvent]:
        self.calls.append(messages)
        time.sleep(self.first_token_delay)
        for index, word in enumerate(self.words):
            if self.fail_after is not None and index == self.fail_after:
                raise ModelError(ModelErrorKind.SERVER, "The test model failed (500). Press Retry.")
            self.release.wait(10)
            yield TextDelta(word)
            time.sleep(self.delay)
        yield Usage(prompt_tokens=7, completion_tokens=len(self.words))


class ScriptedModels:
    """Stands in for ModelClientFactory: every endpoint is the one scripted model."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model
        self.default_endpoint = "scripted"
        self.uses_demo = False

    def client_for(self, endpoint: str | None) -> ScriptedModel:
        return self.model
