"""History use cases: list, search, rename, pin, archive, delete, export and import a user's sessions."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.history import (
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    ArchiveFilter,
    Cursor,
    HistoryRepository,
    SessionFilters,
)
from persistence.orm import ChatMessageRow, ChatSessionRow
from persistence.reconnect import is_connection_error, safe_to_repeat
from persistence.repositories import PREVIEW_CHARS, MessageRepository, SessionRepository
from persistence.statuses import MessageStatus, Role
from services.errors import SessionNotFound, UserError
from services.model_settings import MAX_TOKENS_LIMIT
from services.reply_details import ReplyDetails
from services.text import make_storable
from services.views import User

# Import limits: Streamlit's upload limit (server.maxUploadSize in .streamlit/config.toml) is 5 MB too.
IMPORT_MAX_BYTES = 5_000_000
IMPORT_MAX_MESSAGES = 5_000
IMPORT_BATCH = 500
_INT32_MAX = 2**31 - 1

SEARCH_MAX_CHARS = 500
# Chats in one "export all" download (a part); a longer history is offered in several parts.
EXPORT_CHATS_PER_PART = 500

EXPORT_FORMAT = "lakebase-chat.session"
EXPORT_VERSION = 1
MAX_TITLE_CHARS = 200
PAGE_SIZE = 20
PINNED_LIMIT = 50
SEARCH_LIMIT = 50

__all__ = ["ArchiveFilter", "Cursor", "SessionFilters", "HistoryService", "InvalidImport", "InvalidTitle"]


class InvalidTitle(UserError):
    """A title that is empty or too long."""


class InvalidSearch(UserError):
    """A search query the app does not run (too long)."""


class InvalidImport(UserError):
    """A file that is not one of this app's JSON exports."""


@dataclass(frozen=True)
class HistoryItem:
    id: uuid.UUID
    title: str
    model_endpoint: str | None
    message_count: int
    updated_at: datetime
    pinned: bool
    archived: bool
    last_message_preview: str | None
    # Search only: the best-matching message, as (text, highlighted) pieces.
    snippet: list[tuple[str, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryPage:
    pinned: list[HistoryItem]
    items: list[HistoryItem]
    next_cursor: Cursor | None


def _item(row: ChatSessionRow, snippet: list[tuple[str, bool]] | None = None) -> HistoryItem:
    return HistoryItem(
        id=row.id,
        title=row.title,
        model_endpoint=row.model_endpoint,
        message_count=row.message_count,
        updated_at=row.updated_at,
        pinned=row.pinned,
        archived=row.archived_at is not None,
        last_message_preview=row.last_message_preview,
        snippet=snippet or [],
    )


def split_highlights(snippet: str) -> list[tuple[str, bool]]:
    """Turn PostgreSQL's marked headline into (text, highlighted) pieces, dropping empty ones."""
    pieces: list[tuple[str, bool]] = []
    for part in re.split(f"({HIGHLIGHT_START}.*?{HIGHLIGHT_STOP})", snippet, flags=re.DOTALL):
        if not part:
            continue
        if part.startswith(HIGHLIGHT_START):
            pieces.append((part[1:-1], True))
        else:
            pieces.append((part, False))
    return pieces


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _parse_time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidImport(f"`{name}` must be a date and time in ISO format.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidImport(f"`{name}` is not a date and time in ISO format.") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class HistoryService:
    def __init__(
        self,
        *,
        transactions: sessionmaker[Session],
        endpoint_allowed: Callable[[str], bool] = lambda _: False,
    ) -> None:
        """`endpoint_allowed` says whether an imported chat may keep its model endpoint
        (EndpointCatalog.allows); a chat whose endpoint is not allowed is imported with the default."""
        self._transactions = transactions
        self._endpoint_allowed = endpoint_allowed

    # -- browsing ---------------------------------------------------------------------------------

    @safe_to_repeat
    def list_page(
        self, user: User, filters: SessionFilters, *, after: Cursor | None = None, page_size: int = PAGE_SIZE
    ) -> HistoryPage:
        """One page, newest activity first; pinned sessions come on top of the first page."""
        with unit_of_work(self._transactions) as db:
            repository = HistoryRepository(db, owner_id=user.email)
            pin_on_top = filters.archived is not ArchiveFilter.ARCHIVED
            pinned = repository.pinned(filters, limit=PINNED_LIMIT) if pin_on_top and after is None else []
            rows = repository.page(filters, after=after, limit=page_size + 1, exclude_pinned=pin_on_top)
            more = len(rows) > page_size
            rows = rows[:page_size]
            next_cursor = Cursor(rows[-1].updated_at, rows[-1].id) if more else None
            return HistoryPage([_item(r) for r in pinned], [_item(r) for r in rows], next_cursor)

    @safe_to_repeat
    def search(
        self, user: User, query: str, filters: SessionFilters, *, limit: int = SEARCH_LIMIT
    ) -> list[HistoryItem] | None:
        """Matching sessions, best first; None when the query has no searchable words."""
        query = make_storable(query).text.strip()
        if len(query) > SEARCH_MAX_CHARS:
            # A search box query, not a document: a megabyte of terms would tie up the database.
            raise InvalidSearch(
                f"The search is {len(query):,} characters long; searches of up to {SEARCH_MAX_CHARS} "
                "characters work. Use a few distinctive words."
            )
        if not query:
            return None
        with unit_of_work(self._transactions) as db:
            repository = HistoryRepository(db, owner_id=user.email)
            try:
                if not repository.query_is_searchable(query):
                    return None
                hits = repository.search(query, filters, limit=limit)
            except DBAPIError as error:
                if is_connection_error(error):
                    raise
                # PostgreSQL's query parser has limits of its own ("tsquery stack too small" for
                # fifty minus signs in a row): such a query is the user's to change, not a crash.
                raise InvalidSearch(
                    "This search could not be run as written. Search for plain words instead."
                ) from error
            return [
                _item(hit.session, split_highlights(hit.snippet) if hit.snippet else None) for hit in hits
            ]

    @safe_to_repeat
    def models_used(self, user: User) -> list[str]:
        with unit_of_work(self._transactions) as db:
            return HistoryRepository(db, owner_id=user.email).models_used()

    # -- tidying ----------------------------------------------------------------------------------

    def _locked(self, db: Session, user: User, session_id: uuid.UUID) -> ChatSessionRow:
        row = SessionRepository(db, owner_id=user.email).get_for_update(session_id)
        if row is None:
            raise SessionNotFound()
        return row

    def rename(self, user: User, session_id: uuid.UUID, title: str) -> None:
        title = " ".join(make_storable(title).text.split())
        if not title:
            raise InvalidTitle("A title cannot be empty.")
        if len(title) > MAX_TITLE_CHARS:
            raise InvalidTitle(f"A title can be at most {MAX_TITLE_CHARS} characters long.")
        with unit_of_work(self._transactions) as db:
            row = self._locked(db, user, session_id)
            row.title = title
            row.title_is_custom = True
            db.commit()

    def set_pinned(self, user: User, session_id: uuid.UUID, pinned: bool) -> None:
        with unit_of_work(self._transactions) as db:
            self._locked(db, user, session_id).pinned = pinned
            db.commit()

    def set_archived(self, user: User, session_id: uuid.UUID, archived: bool) -> None:
        with unit_of_work(self._transactions) as db:
            row = self._locked(db, user, session_id)
            row.archived_at = func.now() if archived else None
            db.commit()

    def delete(self, user: User, session_id: uuid.UUID) -> None:
        """Delete the session with its messages, requests and feedback (foreign keys cascade)."""
        with unit_of_work(self._transactions) as db:
            self._locked(db, user, session_id)
            db.execute(
                delete(ChatSessionRow).where(
                    ChatSessionRow.id == session_id, ChatSessionRow.owner_id == user.email
                )
            )
            db.commit()

    # -- export and import ------------------------------------------------------------------------

    def _export_document(self, db: Session, user: User, session_id: uuid.UUID) -> dict[str, Any]:
        row = SessionRepository(db, owner_id=user.email).get(session_id)
        if row is None:
            raise SessionNotFound()
        messages = MessageRepository(db, owner_id=user.email).list_for_session(session_id)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "session": {
                "id": str(row.id),
                "title": row.title,
                "title_is_custom": row.title_is_custom,
                "model_endpoint": row.model_endpoint,
                "system_prompt": row.system_prompt,
                "temperature": row.temperature,
                "max_tokens": row.max_tokens,
                "pinned": row.pinned,
                "archived_at": _iso(row.archived_at),
                "created_at": _iso(row.created_at),
                "updated_at": _iso(row.updated_at),
            },
            "messages": [
                {
                    "seq": m.seq,
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "model": m.model,
                    "prompt_tokens": m.prompt_tokens,
                    "completion_tokens": m.completion_tokens,
                    "time_to_first_token_ms": m.time_to_first_token_ms,
                    "latency_ms": m.latency_ms,
                    "error_message": m.error_message,
                    "created_at": _iso(m.created_at),
                    **({"details": m.details} if m.details else {}),
                }
                for m in messages
            ],
        }

    @safe_to_repeat
    def export_json(self, user: User, session_id: uuid.UUID) -> str:
        with unit_of_work(self._transactions) as db:
            return (
                json.dumps(self._export_document(db, user, session_id), ensure_ascii=False, indent=2) + "\n"
            )

    @safe_to_repeat
    def export_markdown(self, user: User, session_id: uuid.UUID) -> str:
        with unit_of_work(self._transactions) as db:
            document = self._export_document(db, user, session_id)
        session = document["session"]
        lines = [
            f"# {session['title']}",
            "",
            f"- Model: {session['model_endpoint'] or 'default'}",
            f"- Started: {session['created_at']}",
            f"- Last activity: {session['updated_at']}",
            "",
        ]
        for message in document["messages"]:
            who = "You" if message["role"] == Role.USER else "Assistant"
            status = "" if message["status"] == MessageStatus.COMPLETE else f" ({message['status']})"
            lines += [f"## {who}{status}", ""]
            details = ReplyDetails.from_json(message.get("details"))
            for step in details.steps:
                result = "" if step.result is None else f" → `{_one_line(step.result)}`"
                lines.append(f"- Tool `{step.name or 'tool'}` (`{_one_line(step.arguments)}`){result}")
            lines += ["", message["content"], ""] if details.steps else [message["content"], ""]
            if details.sources:
                lines += ["Sources:", ""]
                lines += [
                    f"{number}. {source.title}" + (f" <{source.link}>" if source.link else "")
                    for number, source in enumerate(details.sources, start=1)
                ]
                lines.append("")
            if message["error_message"]:
                lines += [f"> {message['error_message']}", ""]
        return "\n".join(lines)

    def count_exportable(self, user: User) -> int:
        with unit_of_work(self._transactions) as db:
            return (
                db.scalar(
                    select(func.count())
                    .select_from(ChatSessionRow)
                    .where(ChatSessionRow.owner_id == user.email, ChatSessionRow.deleted_at.is_(None))
                )
                or 0
            )

    def export_all_jsonl(
        self, user: User, *, part: int = 0, chats_per_part: int = EXPORT_CHATS_PER_PART
    ) -> Iterator[str]:
        """One part of the user's sessions (`chats_per_part` of them, oldest first) as one JSON
        document per line, read in batches. A download is built whole in memory by Streamlit, so
        a long history is exported in parts rather than as one string of everything."""
        with unit_of_work(self._transactions) as db:
            ids = db.scalars(
                select(ChatSessionRow.id)
                .where(ChatSessionRow.owner_id == user.email, ChatSessionRow.deleted_at.is_(None))
                .order_by(ChatSessionRow.created_at, ChatSessionRow.id)
                .offset(part * chats_per_part)
                .limit(chats_per_part)
            ).all()
        for start in range(0, len(ids), 100):
            with unit_of_work(self._transactions) as db:
                for session_id in ids[start : start + 100]:
                    document = self._export_document(db, user, session_id)
                    yield json.dumps(document, ensure_ascii=False) + "\n"

    def import_json(self, user: User, data: bytes | str) -> uuid.UUID:
        """Add one session from this app's JSON export to the user's history, as a new session.

        The file is the user's word, not this app's record: its messages are marked imported (left
        out of usage figures), and settings outside what a chat may use fall back to the defaults.
        """
        if len(data) > IMPORT_MAX_BYTES:
            raise InvalidImport(
                f"The file is {len(data) / 1_000_000:.1f} MB; chats of up to "
                f"{IMPORT_MAX_BYTES // 1_000_000} MB can be imported. Nothing was imported."
            )
        document = _parse_export(data)
        session = document["session"]
        if len(document["messages"]) > IMPORT_MAX_MESSAGES:
            raise InvalidImport(
                f"The chat has {len(document['messages']):,} messages; up to {IMPORT_MAX_MESSAGES:,} can be "
                "imported at once. Nothing was imported."
            )
        endpoint = _optional_text(session.get("model_endpoint"), "session.model_endpoint")
        if endpoint is not None and not self._endpoint_allowed(endpoint):
            endpoint = None
        with unit_of_work(self._transactions) as db:
            row = SessionRepository(db, owner_id=user.email).add(
                ChatSessionRow(
                    title=_text(session.get("title"), "session.title") or "Imported chat",
                    title_is_custom=bool(session.get("title_is_custom", False)),
                    model_endpoint=endpoint,
                    system_prompt=_optional_text(session.get("system_prompt"), "session.system_prompt"),
                    temperature=_in_range(
                        _optional_number(session.get("temperature"), "session.temperature"), 0.0, 2.0
                    ),
                    max_tokens=_in_range(
                        _optional_int(session.get("max_tokens"), "session.max_tokens"), 1, MAX_TOKENS_LIMIT
                    ),
                    pinned=bool(session.get("pinned", False)),
                    archived_at=_parse_time(session.get("archived_at"), "session.archived_at"),
                    created_at=_parse_time(session.get("created_at"), "session.created_at") or func.now(),
                    updated_at=_parse_time(session.get("updated_at"), "session.updated_at") or func.now(),
                )
            )
            messages = sorted(document["messages"], key=lambda m: m["seq"])
            for index, message in enumerate(messages, start=1):
                name = f"messages[{index - 1}]"
                db.add(
                    ChatMessageRow(
                        session_id=row.id,
                        seq=index,
                        role=message["role"],
                        content=_text(message.get("content"), f"{name}.content"),
                        status=message["status"],
                        model=_optional_text(message.get("model"), f"{name}.model"),
                        prompt_tokens=_optional_int(message.get("prompt_tokens"), f"{name}.prompt_tokens"),
                        completion_tokens=_optional_int(
                            message.get("completion_tokens"), f"{name}.completion_tokens"
                        ),
                        time_to_first_token_ms=_optional_int(
                            message.get("time_to_first_token_ms"), f"{name}.time_to_first_token_ms"
                        ),
                        latency_ms=_optional_int(message.get("latency_ms"), f"{name}.latency_ms"),
                        error_message=_optional_text(message.get("error_message"), f"{name}.error_message"),
                        created_at=_parse_time(message.get("created_at"), f"{name}.created_at") or func.now(),
                        details=_imported_details(message.get("details"), f"{name}.details"),
                        imported=True,
                    )
                )
                if index % IMPORT_BATCH == 0:
                    db.flush()  # insert in batches: a long chat never sits whole in the unit of work
            row.message_count = len(messages)
            row.last_message_preview = (
                _text(messages[-1].get("content"), "content")[:PREVIEW_CHARS] if messages else None
            )
            db.commit()
            return row.id


_ROLES = set(Role)
_STATUSES = set(MessageStatus)
NOT_AN_EXPORT = "This file is not a chat exported from this app (a JSON file from Export → JSON)."


def _parse_export(data: bytes | str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidImport(NOT_AN_EXPORT + " It is not valid JSON.") from error
    except RecursionError as error:  # arrays nested thousands deep
        raise InvalidImport(NOT_AN_EXPORT + " It is nested too deeply.") from error
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise InvalidImport(NOT_AN_EXPORT)
    if document.get("version") != EXPORT_VERSION:
        raise InvalidImport(f"This export has version {document.get('version')!r}; this app reads version 1.")
    if not isinstance(document.get("session"), dict) or not isinstance(document.get("messages"), list):
        raise InvalidImport(NOT_AN_EXPORT + " It has no `session` or no `messages`.")
    for index, message in enumerate(document["messages"]):
        if not isinstance(message, dict):
            raise InvalidImport(f"messages[{index}] is not an object.")
        if message.get("role") not in _ROLES:
            raise InvalidImport(f"messages[{index}].role must be `user` or `assistant`.")
        if message.get("status") not in _STATUSES:
            raise InvalidImport(f"messages[{index}].status must be one of {', '.join(sorted(_STATUSES))}.")
        if not isinstance(message.get("seq"), int):
            raise InvalidImport(f"messages[{index}].seq must be a whole number.")
    return document


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _imported_details(value: Any, name: str) -> dict[str, Any] | None:
    """A reply's steps, reasoning and sources from the file. Its request and trace ids are dropped:
    they would let a file attach this user's ratings to any trace in the workspace."""
    try:
        details = ReplyDetails.from_json(value)
    except ValueError as error:
        raise InvalidImport(f"{name}: {error}. Nothing was imported.") from None
    return dataclasses.replace(details, request_id=None, trace_id=None).to_json()


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidImport(f"`{name}` must be text.")
    return make_storable(value).text


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _optional_int(value: Any, name: str) -> int | None:
    """A whole number a PostgreSQL integer column holds; a figure beyond it is dropped, not stored."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidImport(f"`{name}` must be a whole number.")
    return value if 0 <= value <= _INT32_MAX else None


def _optional_number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidImport(f"`{name}` must be a number.")
    number = float(value)
    return number if math.isfinite(number) else None


def _in_range(value: float | int | None, lowest: float, highest: float) -> Any:
    """A chat setting inside what a chat may use, or None (the default) when outside it."""
    return value if value is not None and lowest <= value <= highest else None
