"""Build what the model sees for a turn: the system prompt, then the newest messages that fit a budget."""

from __future__ import annotations

from dataclasses import dataclass

from persistence.statuses import MessageStatus, Role
from services.model_clients.port import PromptMessage


@dataclass(frozen=True)
class HistoryMessage:
    role: str
    content: str
    status: str


def build_context(
    *, system_prompt: str, history: list[HistoryMessage], char_budget: int
) -> list[PromptMessage]:
    """Newest messages first until the budget is spent; the newest user message always goes in.

    Assistant replies that failed carry no useful text and are left out; of several versions of
    one reply, only the newest goes in. Budgeting by characters
    (about four a token) keeps this free of any tokenizer download.
    """
    usable: list[HistoryMessage] = []
    for message in history:
        if not message.content.strip() or (
            message.role == Role.ASSISTANT and message.status == MessageStatus.ERROR
        ):
            continue
        if message.role == Role.ASSISTANT and usable and usable[-1].role == Role.ASSISTANT:
            # A newer version of the same reply (Retry after Stop, Regenerate) replaces the older.
            usable[-1] = message
            continue
        usable.append(message)
    chosen: list[PromptMessage] = []
    remaining = char_budget - len(system_prompt)
    for index, message in enumerate(reversed(usable)):
        cost = len(message.content)
        if index > 0 and cost > remaining:
            break
        chosen.append(PromptMessage(role=message.role, content=message.content))
        remaining -= cost
    chosen.reverse()
    # A reply must follow a user message: drop a leading assistant message left by the cut.
    while chosen and chosen[0].role == Role.ASSISTANT:
        chosen.pop(0)
    prompt = [PromptMessage(role="system", content=system_prompt)] if system_prompt.strip() else []
    return prompt + chosen


def fit_to_budget(prompt: list[PromptMessage], char_budget: int) -> list[PromptMessage]:
    """Drop the oldest conversation messages until the prompt fits the budget again. System
    messages and the newest message always stay; a reply never leads the conversation."""
    kept = list(prompt)

    def size() -> int:
        return sum(len(message.content) for message in kept)

    while size() > char_budget:
        conversation = [index for index, message in enumerate(kept) if message.role != "system"]
        if len(conversation) <= 1:
            break
        del kept[conversation[0]]
        while True:
            conversation = [index for index, message in enumerate(kept) if message.role != "system"]
            if len(conversation) > 1 and kept[conversation[0]].role == Role.ASSISTANT:
                del kept[conversation[0]]
            else:
                break
    return kept
