"""A chat's model settings: its own choices over the app's defaults, in one place for the page
that shows them and the turn that uses them."""

from __future__ import annotations

from typing import Protocol

from services.config import Settings
from services.views import EffectiveModelSettings

MAX_TOKENS_LIMIT = 200_000


class ChatSettings(Protocol):
    """What a chat stores of its model settings (a row or a view); None means "the default"."""

    @property
    def model_endpoint(self) -> str | None: ...
    @property
    def temperature(self) -> float | None: ...
    @property
    def max_tokens(self) -> int | None: ...
    @property
    def system_prompt(self) -> str | None: ...


def usable_temperature(stored: float | None, default: float) -> float:
    """A chat's own temperature when it is one a model accepts (0.0-2.0), else the default."""
    if stored is None or not 0.0 <= stored <= 2.0:  # NaN fails both comparisons
        return default
    return stored


def usable_max_tokens(stored: int | None, default: int) -> int:
    """A chat's own reply-length limit when it is in range (1-200,000), else the default."""
    if stored is None or not 1 <= stored <= MAX_TOKENS_LIMIT:
        return default
    return stored


def effective_model_settings(
    chat: ChatSettings | None, *, settings: Settings, default_endpoint: str
) -> EffectiveModelSettings:
    """What a chat's next turn uses (for no chat yet: the defaults)."""
    if chat is None:
        return EffectiveModelSettings(
            endpoint=default_endpoint,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
            system_prompt=settings.system_prompt,
        )
    return EffectiveModelSettings(
        endpoint=chat.model_endpoint or default_endpoint,
        temperature=usable_temperature(chat.temperature, settings.llm_temperature),
        max_tokens=usable_max_tokens(chat.max_tokens, settings.llm_max_tokens),
        system_prompt=chat.system_prompt if chat.system_prompt is not None else settings.system_prompt,
    )
