"""Thumbs up or down on a reply, with an optional comment: one rating per reply and user, changeable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from persistence.database import unit_of_work
from persistence.reconnect import safe_to_repeat
from persistence.repositories import FeedbackRepository, MessageRepository
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
            ratings = FeedbackRepository(db, user_id=user.email)
            if rating is None:
                ratings.remove(message_id)
            else:
                ratings.save(message_id, rating, comment)
            db.commit()

    @safe_to_repeat
    def ratings_in_session(self, user: User, session_id: uuid.UUID) -> dict[int, Rating]:
        """The user's ratings of the replies in one of their sessions, by message id."""
        with unit_of_work(self._transactions) as db:
            rows = FeedbackRepository(db, user_id=user.email).in_session(session_id)
            return {message_id: Rating(rating, comment) for message_id, rating, comment in rows}
