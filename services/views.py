"""Plain, typed objects that cross from the services into the UI. No ORM object leaves a service."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row

from persistence.orm import ChatMessageRow
from persistence.statuses import MessageStatus, Role
from services.reply_details import ReplyDetails

__all__ = ["MessageStatus", "Role"]  # the named states, for the pages that draw them

logger = logging.getLogger(__name__)

View = TypeVar("View")


def from_row(view: type[View], row: object, **computed: Any) -> View:
    """A view of a database row: each of the view's fields read from the row's attribute of the
    same name, except those given in `computed`. No field is copied by hand."""
    return view(
        **{name: computed[name] if name in computed else getattr(row, name) for name in _field_names(view)}
    )


# Once per view class: `fields()` walks a class's dataclass fields on every call, and a page run
# makes a view of every message it shows.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(view: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(view)
    if names is None:
        names = _FIELD_NAMES[view] = tuple(f.name for f in fields(view))
    return names


@dataclass(frozen=True)
class User:
    email: str
    is_admin: bool = False
    # The user's own Databricks token, only with MODEL_CALLS_AS_USER: never shown, logged or stored.
    access_token: str | None = field(default=None, repr=False, compare=False)

    @property
    def display_name(self) -> str:
        local_part = self.email.split("@", 1)[0]
        return local_part.replace(".", " ").replace("_", " ").title() or self.email


@dataclass(frozen=True)
class SessionSummary:
    id: uuid.UUID
    title: str
    model_endpoint: str | None
    message_count: int
    updated_at: datetime
    pinned: bool


@dataclass(frozen=True)
class SessionView:
    id: uuid.UUID
    title: str
    model_endpoint: str | None
    system_prompt: str | None
    temperature: float | None
    max_tokens: int | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None


@dataclass(frozen=True)
class MessageView:
    id: int
    seq: int
    role: str
    content: str
    status: str
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    time_to_first_token_ms: int | None
    latency_ms: int | None
    error_message: str | None
    created_at: datetime
    details: ReplyDetails = field(default_factory=ReplyDetails)
    superseded: bool = False  # replaced by an edit of the user's message


@dataclass(frozen=True)
class RequestView:
    id: uuid.UUID
    session_id: uuid.UUID
    status: str
    partial_text: str
    error_message: str | None
    user_message_id: int
    seconds_since_activity: float


@dataclass(frozen=True)
class SubmitResult:
    session_id: uuid.UUID
    request_id: uuid.UUID
    user_message_id: int
    duplicate: bool
    notices: list[str] = field(default_factory=list)
    # A replayed submit whose request no runner has picked up yet (the first attempt committed,
    # then lost its connection before starting the turn): the replay starts it.
    waiting_for_runner: bool = False


@dataclass(frozen=True)
class EffectiveModelSettings:
    """What a session's next turn will use: the session's own choices over the app's defaults."""

    endpoint: str | None
    temperature: float
    max_tokens: int
    system_prompt: str


@dataclass(frozen=True)
class Dashboard:
    sessions_this_week: int
    messages_this_week: int
    recent_sessions: list[SessionSummary]


def message_view(row: ChatMessageRow | Row[Any]) -> MessageView:
    """A message as the UI shows it, from its ORM object or a plain row of its columns."""
    return from_row(MessageView, row, details=stored_details(row))


def stored_details(row: ChatMessageRow | Row[Any]) -> ReplyDetails:
    """A message's stored details; a damaged document shows the reply without them, never fails it."""
    try:
        return ReplyDetails.from_json(row.details)
    except ValueError:
        logger.warning("Message %s has unreadable details; shown without them", row.id)
        return ReplyDetails()
