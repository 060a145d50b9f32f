"""The offline demo model: no network, a clearly labelled reply streamed at a realistic pace.

It exists so that the whole app (streaming, saving, history, Stop, Retry) can be tried on a laptop
with no account. Its replies say plainly that they do not come from a real model.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from services.model_clients.port import GenerationParams, PromptMessage, StreamEvent, TextDelta, Usage

DEMO_MODEL_NAME = "offline-demo"


def _estimate_tokens(text: str) -> int:
    # About four characters a token for English text: good enough for a demo's usage figures.
    return max(1, (len(text) + 3) // 4)


class DemoModelClient:
    label = "Offline demo model"
    is_demo = True

    def __init__(
        self,
        *,
        first_token_delay_seconds: float,
        word_delay_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._first_token_delay = first_token_delay_seconds
        self._word_delay = word_delay_seconds
        self._sleep = sleep

    def compose_reply(self, messages: list[PromptMessage]) -> str:
        last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        turns = sum(1 for m in messages if m.role == "user")
        quoted = last_user.strip().replace("\n", " ")
        if len(quoted) > 160:
            quoted = quoted[:157] + "..."
        return (
            "*Offline demo model: this reply is generated locally, not by a real model.*\n\n"
            f'You wrote: "{quoted}"\n\n'
            f"This is turn {turns} of the conversation. Everything you send is saved, so it is still "
            "here after a reload or a restart. To chat with a real model, set `DATABRICKS_HOST` and "
            "`LLM_ENDPOINT` (a Databricks serving endpoint) or `LLM_BASE_URL` (any OpenAI-compatible "
            "server) and restart the app."
        )

    def stream_chat(
        self, messages: list[PromptMessage], params: GenerationParams, *, user_token: str | None = None
    ) -> Iterator[StreamEvent]:
        reply = self.compose_reply(messages)
        words = re.findall(r"\S+\s*|\s+", reply)
        budget = params.max_tokens * 4  # honour max_tokens roughly, as a real model would
        self._sleep(self._first_token_delay)
        sent = 0
        for index, word in enumerate(words):
            if sent + len(word) > budget:
                break
            if index:
                self._sleep(self._word_delay)
            sent += len(word)
            yield TextDelta(word)
        prompt_text = "".join(m.content for m in messages)
        yield Usage(
            prompt_tokens=_estimate_tokens(prompt_text), completion_tokens=_estimate_tokens(reply[:sent])
        )
