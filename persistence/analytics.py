"""SQL aggregates for the admin page: every figure is computed in PostgreSQL over indexed columns.

Messages are selected by `created_at` (indexed) within the chosen window; nothing pulls raw rows
into Python beyond the few aggregated rows each query returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from persistence.statuses import MessageStatus, Role


@dataclass(frozen=True)
class UsageTotals:
    sessions: int
    user_messages: int
    replies: int
    prompt_tokens: int
    completion_tokens: int
    errors: int
    active_users: int


@dataclass(frozen=True)
class ActiveUsers:
    last_day: int
    last_7_days: int
    last_30_days: int


@dataclass(frozen=True)
class DailyUsage:
    day: date
    user_messages: int
    active_users: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ModelUsage:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    error_rate: float
    thumbs_up_rate: float | None  # None when nobody rated this model's replies
    ratings: int


@dataclass(frozen=True)
class UserUsage:
    user_id: str
    user_messages: int
    tokens: int


@dataclass(frozen=True)
class RatedReply:
    message_id: int
    session_id: str
    owner_id: str
    session_title: str
    model: str | None
    rated_by: str
    comment: str | None
    rated_at: datetime
    reply_preview: str


# Imported messages are the importer's copy of another record, not usage of this app.
_WINDOW = "NOT m.imported AND m.created_at >= :start AND m.created_at < :end"


class AnalyticsRepository:
    """Figures across all users: for admins only (the service checks that before calling)."""

    def __init__(self, db: Session) -> None:
        self._db = db

    def totals(self, start: datetime, end: datetime) -> UsageTotals:
        row = self._db.execute(
            text(
                f"""
                SELECT count(DISTINCT m.session_id) AS sessions,
                       count(*) FILTER (WHERE m.role = '{Role.USER}') AS user_messages,
                       count(*) FILTER (WHERE m.role = '{Role.ASSISTANT}') AS replies,
                       coalesce(sum(m.prompt_tokens), 0) AS prompt_tokens,
                       coalesce(sum(m.completion_tokens), 0) AS completion_tokens,
                       count(*) FILTER (WHERE m.status = '{MessageStatus.ERROR}') AS errors,
                       count(DISTINCT s.owner_id) FILTER (WHERE m.role = '{Role.USER}') AS active_users
                FROM chat_message m JOIN chat_session s ON s.id = m.session_id
                WHERE {_WINDOW}
                """
            ),
            {"start": start, "end": end},
        ).one()
        return UsageTotals(*(int(value) for value in row))

    def active_users(self, end: datetime) -> ActiveUsers:
        """Distinct users who sent a message in the day, 7 days and 30 days before `end`."""
        row = self._db.execute(
            text(
                f"""
                SELECT count(DISTINCT s.owner_id) FILTER (WHERE m.created_at >= :day),
                       count(DISTINCT s.owner_id) FILTER (WHERE m.created_at >= :week),
                       count(DISTINCT s.owner_id)
                FROM chat_message m JOIN chat_session s ON s.id = m.session_id
                WHERE m.role = '{Role.USER}' AND NOT m.imported
                  AND m.created_at >= :month AND m.created_at < :end
                """
            ),
            {
                "day": end - timedelta(days=1),
                "week": end - timedelta(days=7),
                "month": end - timedelta(days=30),
                "end": end,
            },
        ).one()
        return ActiveUsers(*(int(value) for value in row))

    def daily(self, start: datetime, end: datetime) -> list[DailyUsage]:
        rows = self._db.execute(
            text(
                f"""
                SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day,
                       count(*) FILTER (WHERE m.role = '{Role.USER}'),
                       count(DISTINCT s.owner_id) FILTER (WHERE m.role = '{Role.USER}'),
                       coalesce(sum(m.prompt_tokens), 0),
                       coalesce(sum(m.completion_tokens), 0)
                FROM chat_message m JOIN chat_session s ON s.id = m.session_id
                WHERE {_WINDOW}
                GROUP BY day ORDER BY day
                """
            ),
            {"start": start, "end": end},
        ).all()
        return [DailyUsage(row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows]

    def per_model(self, start: datetime, end: datetime) -> list[ModelUsage]:
        rows = self._db.execute(
            text(
                f"""
                WITH replies AS (
                    SELECT m.id, coalesce(m.model, 'unknown') AS model, m.status, m.prompt_tokens,
                           m.completion_tokens, m.time_to_first_token_ms, m.latency_ms
                    FROM chat_message m
                    WHERE m.role = '{Role.ASSISTANT}' AND {_WINDOW}
                ),
                ratings AS (
                    SELECT r.model, count(*) AS n, count(*) FILTER (WHERE f.rating = 1) AS up
                    FROM replies r JOIN feedback f ON f.message_id = r.id
                    GROUP BY r.model
                )
                SELECT r.model,
                       count(*),
                       coalesce(sum(r.prompt_tokens), 0),
                       coalesce(sum(r.completion_tokens), 0),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.time_to_first_token_ms),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.time_to_first_token_ms),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.latency_ms),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms),
                       avg((r.status = '{MessageStatus.ERROR}')::int),
                       max(ratings.up)::float / nullif(max(ratings.n), 0),
                       coalesce(max(ratings.n), 0)
                FROM replies r LEFT JOIN ratings ON ratings.model = r.model
                GROUP BY r.model
                ORDER BY count(*) DESC, r.model
                """
            ),
            {"start": start, "end": end},
        ).all()
        return [
            ModelUsage(
                model=row[0],
                requests=int(row[1]),
                prompt_tokens=int(row[2]),
                completion_tokens=int(row[3]),
                ttft_p50_ms=_float(row[4]),
                ttft_p95_ms=_float(row[5]),
                latency_p50_ms=_float(row[6]),
                latency_p95_ms=_float(row[7]),
                error_rate=float(row[8] or 0),
                thumbs_up_rate=_float(row[9]),
                ratings=int(row[10]),
            )
            for row in rows
        ]

    def top_users(self, start: datetime, end: datetime, *, limit: int) -> list[UserUsage]:
        rows = self._db.execute(
            text(
                f"""
                SELECT s.owner_id,
                       count(*) FILTER (WHERE m.role = '{Role.USER}') AS user_messages,
                       coalesce(sum(m.prompt_tokens), 0) + coalesce(sum(m.completion_tokens), 0) AS tokens
                FROM chat_message m JOIN chat_session s ON s.id = m.session_id
                WHERE {_WINDOW}
                GROUP BY s.owner_id
                ORDER BY user_messages DESC, tokens DESC, s.owner_id
                LIMIT :limit
                """
            ),
            {"start": start, "end": end, "limit": limit},
        ).all()
        return [UserUsage(row[0], int(row[1]), int(row[2])) for row in rows]

    def recent_thumbs_down(self, *, limit: int) -> list[RatedReply]:
        rows = self._db.execute(
            text(
                """
                SELECT m.id, s.id::text, s.owner_id, s.title, m.model, f.user_id, f.comment, f.updated_at,
                       left(m.content, 300)
                FROM feedback f
                JOIN chat_message m ON m.id = f.message_id
                JOIN chat_session s ON s.id = m.session_id
                WHERE f.rating = -1
                ORDER BY f.updated_at DESC
                LIMIT :limit
                """
            ),
            {"limit": limit},
        ).all()
        return [RatedReply(*row) for row in rows]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
