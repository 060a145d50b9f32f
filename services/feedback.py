"""Thumbs up or down on a reply, with an optional comment: one rating per reply and user, changeable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.orm import ChatMessageRow, FeedbackRow
from persistence.reconnect import safe_to_repeat
from persistence.repositories import MessageRepository
from persistence.statuses import Role
from services.errors import ReplyNotFound
from services.text import make_storable
from services.views import User

MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class Rating:
    rating: int  # 1 (thumbs up) or -1 (thumbs down)
    comment: str | None


class FeedbackService:
    def __init__(self, *, transactions: sessionmaker[Session]) -> None:
        self._transactions = transactions

    @safe_to_repeat
    def rate(self, user: User, message_id: int, rating: int | None, comment: str | None = None) -> None:
        """Set (or with `rating=None`, remove) the user's rating of one of their own replies."""
        if rating not in (1, -1, None):
            raise ValueError("rating must be 1, -1 or None")
        comment = make_storable(comment).text.strip()[:MAX_COMMENT_CHARS] if comment else None
        with unit_of_work(self._transactions) as db:
            message = MessageRepository(db, owner_id=user.email).get(message_id)
            if message is None or message.role != Role.ASSISTANT:
                raise ReplyNotFound()
            if rating is None:
                db.execute(
                    delete(FeedbackRow).where(
                        FeedbackRow.message_id == message_id, FeedbackRow.user_id == user.email
                    )
                )
            else:
                statement = insert(FeedbackRow).values(
                    message_id=message_id, user_id=user.email, rating=rating, comment=comment
                )
                db.execute(
                    statement.on_conflict_do_update(
                        constraint="uq_feedback_message_user",
                        # A changed rating is sent to the reply's trace again (services.trace_feedback).
                        set_={
                            "rating": rating,
                            "comment": comment,
                            "updated_at": func.now(),
                            "trace_synced_at": None,
                            "trace_sync_attempts": 0,
                        },
                    )
                )
            db.commit()

    @safe_to_repeat
    def ratings_in_session(self, user: User, session_id: uuid.UUID) -> dict[int, Rating]:
        """The user's ratings of the replies in one of their sessions, by message id."""
        with unit_of_work(self._transactions) as db:
            rows = db.execute(
                select(FeedbackRow.message_id, FeedbackRow.rating, FeedbackRow.comment)
                .join(ChatMessageRow, ChatMessageRow.id == FeedbackRow.message_id)
                .where(ChatMessageRow.session_id == session_id, FeedbackRow.user_id == user.email)
            ).all()
            return {message_id: Rating(rating, comment) for message_id, rating, comment in rows}
