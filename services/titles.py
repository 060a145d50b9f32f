"""Chat titles: the first message's words at once, then (with a real model) a short title the
model writes in the background. A title is plain text, whatever the model sends."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.repositories import SessionRepository
from services.model_clients.port import (
    GenerationParams,
    ModelClient,
    ModelError,
    ModelErrorKind,
    PromptMessage,
    TextDelta,
)
from services.text import make_storable

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60


def title_from_message(text: str) -> str:
    """A first title taken from the first message: its first line, cut at a word boundary."""
    first_line = " ".join(text.strip().split())
    if len(first_line) <= TITLE_LENGTH:
        return first_line or DEFAULT_TITLE
    cut = first_line[:TITLE_LENGTH].rsplit(" ", 1)[0]
    return (cut or first_line[:TITLE_LENGTH]) + "…"


TITLE_INSTRUCTION = (
    "Write a title of at most six words for this conversation. Reply with the title only: "
    "no quotes, no punctuation at the end."
)
TITLE_MAX_CHARS = 60
TITLE_MAX_TOKENS = 24  # six words and then some; a model that goes on is cut here


def clean_model_title(suggestion: str) -> str:
    """The first line of the model's answer, without quotes, Markdown marks or a final full stop."""
    line = next((part.strip() for part in suggestion.splitlines() if part.strip()), "")
    line = make_storable(line).text.strip().removeprefix("Title:").strip()
    # A title is plain text: images and links keep only their words, markup characters go.
    line = _MARKDOWN_LINK.sub(r"\1", line)
    line = line.strip("\"'`*#").strip().rstrip(".").strip()
    line = _TITLE_MARKUP.sub("", line)
    return " ".join(line.split())[:TITLE_MAX_CHARS].strip()


_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TITLE_MARKUP = re.compile(r"[<>`*_\[\]]")


@dataclass(frozen=True)
class ChatTurn:
    """A chat's first exchange, which its title sums up."""

    session_id: uuid.UUID
    owner_id: str
    question: str
    answer: str


def write_model_title(
    transactions: sessionmaker[Session],
    turn: ChatTurn,
    client: ModelClient,
    params: GenerationParams,
    call_options: dict[str, str | None],
) -> None:
    """Replace the first-message title with a short one written by the model; fail silently."""
    prompt = [
        PromptMessage("system", TITLE_INSTRUCTION),
        PromptMessage("user", f"User: {turn.question[:2000]}\n\nAssistant: {turn.answer[:2000]}"),
    ]
    parts: list[str] = []
    try:
        for event in client.stream_chat(
            prompt,
            GenerationParams(params.model, temperature=0.2, max_tokens=TITLE_MAX_TOKENS, task=params.task),
            **call_options,
        ):
            if isinstance(event, TextDelta):
                parts.append(event.text)
    except ModelError as error:
        # A model that wrote past the limit still began with its title: its first line is used.
        if error.kind is not ModelErrorKind.LENGTH_LIMIT or not parts:
            logger.info("No model title for session %s: %s", turn.session_id, error.kind)
            return
    suggestion = "".join(parts)
    title = clean_model_title(suggestion)
    if not title:
        return
    try:
        with unit_of_work(transactions) as db:
            SessionRepository(db, owner_id=turn.owner_id).set_model_title(turn.session_id, title)
            db.commit()
    except Exception:
        logger.warning("Saving the model's title for session %s failed", turn.session_id, exc_info=True)
