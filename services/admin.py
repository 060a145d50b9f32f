"""Admin use cases: usage and quality figures across all users, and audited read-only viewing.

Every method checks that the caller is an admin first: the page's own check is not the only one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session, sessionmaker

from persistence.analytics import (
    ActiveUsers,
    AnalyticsRepository,
    DailyUsage,
    ModelUsage,
    RatedReply,
    UsageTotals,
    UserUsage,
)
from persistence.database import unit_of_work
from persistence.repositories import AdminRepository
from services.errors import NotAnAdmin, SessionNotFound
from services.views import MessageView, User, from_row, message_view

TOP_USERS = 10
RECENT_THUMBS_DOWN = 50
AUDIT_ROWS = 100


@dataclass(frozen=True)
class UsageReport:
    start: date
    end: date  # inclusive
    totals: UsageTotals
    active: ActiveUsers
    daily: list[DailyUsage]
    models: list[ModelUsage]
    top_users: list[UserUsage]


@dataclass(frozen=True)
class ReplyRating:
    message_id: int
    user_id: str
    rating: int
    comment: str | None


@dataclass(frozen=True)
class AuditedConversation:
    session_id: uuid.UUID
    owner_id: str
    title: str
    model_endpoint: str | None
    messages: list[MessageView]
    ratings: list[ReplyRating] = field(default_factory=list)


@dataclass(frozen=True)
class AuditEntry:
    admin_id: str
    owner_id: str
    session_id: uuid.UUID
    session_title: str
    viewed_at: datetime


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC): whole days, end included."""
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(
        end + timedelta(days=1), time.min, tzinfo=UTC
    )


class AdminService:
    def __init__(self, *, transactions: sessionmaker[Session]) -> None:
        self._transactions = transactions

    @staticmethod
    def _require_admin(user: User) -> None:
        if not user.is_admin:
            raise NotAnAdmin()

    def usage(self, user: User, start: date, end: date) -> UsageReport:
        self._require_admin(user)
        window_start, window_end = day_bounds(start, end)
        with unit_of_work(self._transactions) as db:
            analytics = AnalyticsRepository(db)
            return UsageReport(
                start=start,
                end=end,
                totals=analytics.totals(window_start, window_end),
                active=analytics.active_users(window_end),
                daily=analytics.daily(window_start, window_end),
                models=analytics.per_model(window_start, window_end),
                top_users=analytics.top_users(window_start, window_end, limit=TOP_USERS),
            )

    def recent_thumbs_down(self, user: User, *, limit: int = RECENT_THUMBS_DOWN) -> list[RatedReply]:
        self._require_admin(user)
        with unit_of_work(self._transactions) as db:
            return AnalyticsRepository(db).recent_thumbs_down(limit=limit)

    def view_session(self, user: User, session_id: uuid.UUID, *, record: bool = True) -> AuditedConversation:
        """Any user's conversation, read-only; the view is written to the audit log (unless `record`
        is False: a rerun of a view already recorded)."""
        self._require_admin(user)
        with unit_of_work(self._transactions) as db:
            conversations = AdminRepository(db)
            session = conversations.session(session_id)
            if session is None:
                raise SessionNotFound()
            if record:
                conversations.record_view(admin_id=user.email, session=session)
            conversation = AuditedConversation(
                session_id=session.id,
                owner_id=session.owner_id,
                title=session.title,
                model_endpoint=session.model_endpoint,
                messages=[message_view(m) for m in conversations.messages(session_id)],
                ratings=[from_row(ReplyRating, row) for row in conversations.ratings(session_id)],
            )
            db.commit()
            return conversation

    def audit_log(self, user: User, *, limit: int = AUDIT_ROWS) -> list[AuditEntry]:
        self._require_admin(user)
        with unit_of_work(self._transactions) as db:
            return [from_row(AuditEntry, row) for row in AdminRepository(db).recent_views(limit=limit)]
