"""Build what the model sees for a turn: the system prompt, then the newest messages that fit a budget."""

from __future__ import annotations

from dataclasses import dataclass

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

    Assistant replies that failed carry no useful text and are left out. Budgeting by characters
    (about four a token) keeps this free of any tokenizer download.
    """
    usable = [m for m in history if m.content.strip() and not (m.role == "assistant" and m.status == "error")]
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
    while chosen and chosen[0].role == "assistant":
        chosen.pop(0)
    prompt = [PromptMessage(role="system", content=system_prompt)] if system_prompt.strip() else []
    return prompt + chosen
