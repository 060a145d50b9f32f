"""History use cases: list, search, rename, pin, archive, delete, export and import a user's sessions."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
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
from persistence.orm import ChatSessionRow
from persistence.reconnect import is_connection_error, safe_to_repeat
from persistence.repositories import SessionRepository, database_now, purge_deleted_sessions
from services.errors import SessionNotFound, UserError
from services.text import make_storable
from services.views import User, from_row

# Import limits: Streamlit's upload limit (server.maxUploadSize in .streamlit/config.toml) is 5 MB too.

SEARCH_MAX_CHARS = 500
# Chats in one "export all" download (a part); a longer history is offered in several parts.

EXPORT_FORMAT = "lakebase-chat.session"
EXPORT_VERSION = 1
MAX_TITLE_CHARS = 200
# How long a deleted chat can be restored (Undo); after that it is removed for good, with its
# messages and ratings. Until then it is in no list, page, search or export.
DELETE_UNDO_SECONDS = 10 * 60
PAGE_SIZE = 20
PINNED_LIMIT = 50
SEARCH_LIMIT = 50

logger = logging.getLogger(__name__)

__all__ = [
    "ArchiveFilter",
    "Cursor",
    "DeletedChatPurger",
    "HistoryService",
    "InvalidTitle",
    "SessionFilters",
]


class InvalidTitle(UserError):
    """A title that is empty or too long."""


class InvalidSearch(UserError):
    """A search query the app does not run (too long)."""


class UndoTooLate(UserError):
    user_message = (
        f"This chat cannot be restored: deletes can be undone for {DELETE_UNDO_SECONDS // 60} minutes."
    )


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
    return from_row(HistoryItem, row, archived=row.archived_at is not None, snippet=snippet or [])


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


class HistoryService:
    def __init__(self, *, transactions: sessionmaker[Session]) -> None:
        self._transactions = transactions

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
        """Delete the chat: gone from every list and page at once, restorable with `restore` for
        `DELETE_UNDO_SECONDS`, then removed for good with its messages, requests and ratings
        (`purge_deleted`)."""
        with unit_of_work(self._transactions) as db:
            self._locked(db, user, session_id)
            SessionRepository(db, owner_id=user.email).delete(session_id)
            db.commit()

    def restore(self, user: User, session_id: uuid.UUID) -> None:
        """Undo a delete made less than `DELETE_UNDO_SECONDS` ago."""
        with unit_of_work(self._transactions) as db:
            since = database_now(db) - timedelta(seconds=DELETE_UNDO_SECONDS)
            if not SessionRepository(db, owner_id=user.email).restore(session_id, deleted_since=since):
                raise UndoTooLate()
            db.commit()

    def purge_deleted(self) -> int:
        """Remove for good every user's chats deleted more than `DELETE_UNDO_SECONDS` ago."""
        with unit_of_work(self._transactions) as db:
            before = database_now(db) - timedelta(seconds=DELETE_UNDO_SECONDS)
            purged = purge_deleted_sessions(db, deleted_before=before)
            db.commit()
        if purged:
            logger.info("Removed %d deleted chat(s) for good", purged)
        return purged


class DeletedChatPurger:
    """Removes deleted chats for good once their undo time is over: once at start (chats deleted
    before a restart), then every `interval_seconds`, in a background thread."""

    def __init__(self, history: HistoryService, *, interval_seconds: float = 60.0) -> None:
        self._history = history
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="purge-deleted-chats", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            try:
                self._history.purge_deleted()
            except Exception as error:  # the database is away: try again next time
                logger.info("Removing deleted chats waits for the database (%s)", type(error).__name__)
            if self._stopping.wait(self._interval):
                return
