"""Queries behind the history page: keyset-paged session lists and full-text search, owner-scoped.

Pages are keyset-paginated on (updated_at, id), never OFFSET: a page costs the same however deep
it is, and sessions that arrive meanwhile do not shift later pages. Search runs in PostgreSQL
(`websearch_to_tsquery` over GIN-indexed tsvectors of titles and messages).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.orm import Session

from persistence.orm import SEARCH_CONFIG, ChatSessionRow

# Private-use characters mark highlighted words in search snippets: they cannot clash with
# anything a person types, and the UI turns them into emphasis after escaping the text.
HIGHLIGHT_START = "\ue000"
HIGHLIGHT_STOP = "\ue001"


class ArchiveFilter(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    ALL = "all"


@dataclass(frozen=True)
class SessionFilters:
    archived: ArchiveFilter = ArchiveFilter.ACTIVE
    model: str | None = None
    updated_from: datetime | None = None
    updated_before: datetime | None = None


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: just after this (updated_at, id)."""

    updated_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class SearchRow:
    session: ChatSessionRow
    score: float
    message_id: int | None
    snippet: str | None  # with HIGHLIGHT_START/STOP around matched words


class HistoryRepository:
    def __init__(self, db: Session, *, owner_id: str) -> None:
        self._db = db
        self._owner_id = owner_id

    def _filtered(self, filters: SessionFilters) -> Select[ChatSessionRow]:
        statement = select(ChatSessionRow).where(
            ChatSessionRow.owner_id == self._owner_id,
            ChatSessionRow.deleted_at.is_(None),
            # A chat with no message yet (settings saved before the first one) is not history.
            ChatSessionRow.message_count > 0,
        )
        return statement.where(*_filter_clauses(filters))

    def pinned(self, filters: SessionFilters, *, limit: int) -> Sequence[ChatSessionRow]:
        statement = (
            self._filtered(filters)
            .where(ChatSessionRow.pinned.is_(True))
            .order_by(ChatSessionRow.updated_at.desc(), ChatSessionRow.id.desc())
            .limit(limit)
        )
        return self._db.scalars(statement).all()

    def page(
        self, filters: SessionFilters, *, after: Cursor | None, limit: int, exclude_pinned: bool
    ) -> Sequence[ChatSessionRow]:
        statement = self._filtered(filters)
        if exclude_pinned:
            statement = statement.where(ChatSessionRow.pinned.is_(False))
        if after is not None:
            statement = statement.where(
                tuple_(ChatSessionRow.updated_at, ChatSessionRow.id) < tuple_(after.updated_at, after.id)
            )
        statement = statement.order_by(ChatSessionRow.updated_at.desc(), ChatSessionRow.id.desc()).limit(
            limit
        )
        return self._db.scalars(statement).all()

    def models_used(self) -> list[str]:
        statement = (
            select(ChatSessionRow.model_endpoint)
            .distinct()
            .where(
                ChatSessionRow.owner_id == self._owner_id,
                ChatSessionRow.deleted_at.is_(None),
                ChatSessionRow.model_endpoint.is_not(None),
            )
            .order_by(ChatSessionRow.model_endpoint)
        )
        return [model for model in self._db.scalars(statement) if model]

    def query_is_searchable(self, query: str) -> bool:
        """False for text with no searchable words (empty, only stop words or punctuation)."""
        statement = text(f"SELECT numnode(websearch_to_tsquery('{SEARCH_CONFIG}', :query)) > 0")
        return bool(self._db.scalar(statement, {"query": query}))

    def search(self, query: str, filters: SessionFilters, *, limit: int) -> list[SearchRow]:
        """Sessions whose title or messages match, best first, each with its best-matching message."""
        session_filters, params = _filter_sql(filters)
        params.update(owner=self._owner_id, query=query, limit=limit)
        statement = text(
            f"""
            WITH q AS (SELECT websearch_to_tsquery('{SEARCH_CONFIG}', :query) AS query),
            message_hits AS (
                SELECT DISTINCT ON (m.session_id)
                       m.session_id, m.id AS message_id, ts_rank(m.search_vector, q.query) AS rank
                FROM chat_message m
                JOIN chat_session s ON s.id = m.session_id
                CROSS JOIN q
                WHERE s.owner_id = :owner AND s.deleted_at IS NULL {session_filters}
                  AND m.search_vector @@ q.query
                ORDER BY m.session_id, rank DESC, m.seq DESC
            ),
            title_hits AS (
                SELECT s.id AS session_id, 2 * ts_rank(s.search_vector, q.query) AS rank
                FROM chat_session s CROSS JOIN q
                WHERE s.owner_id = :owner AND s.deleted_at IS NULL {session_filters}
                  AND s.search_vector @@ q.query
            ),
            best AS (
                SELECT session_id, message_hits.message_id,
                       coalesce(message_hits.rank, 0) + coalesce(title_hits.rank, 0) AS score
                FROM message_hits FULL JOIN title_hits USING (session_id)
                ORDER BY score DESC
                LIMIT :limit
            )
            SELECT best.session_id, best.score, best.message_id,
                   CASE WHEN best.message_id IS NULL THEN NULL ELSE ts_headline(
                       '{SEARCH_CONFIG}', m.content, q.query,
                       'StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxWords=30, MinWords=12, '
                       'MaxFragments=2, FragmentDelimiter=" … "'
                   ) END AS snippet
            FROM best
            CROSS JOIN q
            LEFT JOIN chat_message m ON m.id = best.message_id
            ORDER BY best.score DESC
            """
        )
        hits = self._db.execute(statement, params).all()
        sessions = {
            row.id: row
            for row in self._db.scalars(
                select(ChatSessionRow).where(
                    ChatSessionRow.id.in_([hit.session_id for hit in hits]),
                    ChatSessionRow.owner_id == self._owner_id,
                )
            )
        }
        return [
            SearchRow(sessions[hit.session_id], float(hit.score), hit.message_id, hit.snippet)
            for hit in hits
            if hit.session_id in sessions
        ]


def _filter_clauses(filters: SessionFilters) -> list[Any]:
    clauses: list[Any] = []
    if filters.archived is ArchiveFilter.ACTIVE:
        clauses.append(ChatSessionRow.archived_at.is_(None))
    elif filters.archived is ArchiveFilter.ARCHIVED:
        clauses.append(ChatSessionRow.archived_at.is_not(None))
    if filters.model is not None:
        clauses.append(ChatSessionRow.model_endpoint == filters.model)
    if filters.updated_from is not None:
        clauses.append(ChatSessionRow.updated_at >= filters.updated_from)
    if filters.updated_before is not None:
        clauses.append(ChatSessionRow.updated_at < filters.updated_before)
    return clauses


def _filter_sql(filters: SessionFilters) -> tuple[str, dict[str, Any]]:
    """The same filters as `_filter_clauses`, for the hand-written search SQL (bound parameters only)."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    if filters.archived is ArchiveFilter.ACTIVE:
        parts.append("s.archived_at IS NULL")
    elif filters.archived is ArchiveFilter.ARCHIVED:
        parts.append("s.archived_at IS NOT NULL")
    if filters.model is not None:
        parts.append("s.model_endpoint = :model")
        params["model"] = filters.model
    if filters.updated_from is not None:
        parts.append("s.updated_at >= :updated_from")
        params["updated_from"] = filters.updated_from
    if filters.updated_before is not None:
        parts.append("s.updated_at < :updated_before")
        params["updated_before"] = filters.updated_before
    return "".join(f" AND {part}" for part in parts), params
