"""A turn's reply, stored: the assistant message, and its request closed, in one transaction.
And what a person is told when a reply could not be written or stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from persistence.orm import ChatMessageRow, ChatRequestRow
from persistence.repositories import MessageRepository, RequestRepository, SessionRepository
from persistence.statuses import OPEN_REQUEST_STATUSES, Role
from services.model_clients.port import Usage
from services.reply_buffer import TurnOutcome
from services.text import make_storable

KEPT_FOR_LATER_MESSAGE = (
    "Not saved yet: the database is unreachable. This reply is kept and is saved as soon as the "
    "database is back; reload the page in a moment."
)
EMPTY_REPLY_MESSAGE = "The model sent an empty reply. Press Retry, or rephrase your message."
SAVE_FAILED_MESSAGE = (
    "The reply could not be saved because the database is unavailable. Your message is saved; press Retry."
)
INTERRUPTED_MESSAGE = (
    "The app restarted while this reply was being written; the text so far is kept. "
    "Press Retry for a full reply."
)
NO_USER_TOKEN_MESSAGE = (
    "This app sends your messages to the model with your own Databricks permissions, and your "
    "sign-in was not available for this reply (the app restarted, or the page was opened without the "
    "Databricks Apps proxy). Reload the page, then press Retry."
)
UNEXPECTED_FAILURE_MESSAGE = (
    "Something went wrong while writing the reply. Your message is saved; press Retry."
)


@dataclass(frozen=True)
class ReplyMetrics:
    """What a reply is measured by: which model wrote it, its tokens, and how long it took."""

    model: str | None = None
    usage: Usage | None = None
    time_to_first_token_ms: int | None = None
    latency_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_tokens": self.usage.prompt_tokens if self.usage else None,
            "completion_tokens": self.usage.completion_tokens if self.usage else None,
            "time_to_first_token_ms": self.time_to_first_token_ms,
            "latency_ms": self.latency_ms,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ReplyMetrics:
        prompt_tokens, completion_tokens = document.get("prompt_tokens"), document.get("completion_tokens")
        has_usage = prompt_tokens is not None or completion_tokens is not None
        return cls(
            model=document.get("model"),
            usage=Usage(prompt_tokens or 0, completion_tokens or 0) if has_usage else None,
            time_to_first_token_ms=document.get("time_to_first_token_ms"),
            latency_ms=document.get("latency_ms"),
        )


def close_request(
    db: Session,
    *,
    request_id: uuid.UUID,
    owner_id: str,
    outcome: TurnOutcome,
    metrics: ReplyMetrics = ReplyMetrics(),
) -> ChatMessageRow | None:
    """Store the assistant message and close its request, in the caller's transaction."""
    requests = RequestRepository(db, owner_id=owner_id)
    request: ChatRequestRow | None = requests.get(request_id, for_update=True)
    if request is None or request.status not in OPEN_REQUEST_STATUSES:
        return None
    sessions = SessionRepository(db, owner_id=owner_id)
    if sessions.get_for_update(request.session_id) is None:
        return None
    text = make_storable(outcome.text).text
    message = MessageRepository(db, owner_id=owner_id).append(
        ChatMessageRow(
            session_id=request.session_id,
            role=Role.ASSISTANT,
            content=text,
            status=outcome.status,
            model=metrics.model,
            prompt_tokens=metrics.usage.prompt_tokens if metrics.usage else None,
            completion_tokens=metrics.usage.completion_tokens if metrics.usage else None,
            time_to_first_token_ms=metrics.time_to_first_token_ms,
            latency_ms=metrics.latency_ms,
            error_message=outcome.error_message,
            details=outcome.details.to_json(),
        )
    )
    request.status = outcome.status
    request.partial_text = text
    request.error_message = outcome.error_message
    request.assistant_message_id = message.id
    request.finished_at = func.now()
    return message
