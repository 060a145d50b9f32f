"""SQLAlchemy models: chat sessions, messages, requests (turn jobs) and feedback.

The schema itself is created by the Alembic migrations in `persistence/migrations`; a test checks
that the migrated database matches these models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import ColumnElement

from persistence.statuses import MessageStatus, RequestStatus, Role, sql_list
from persistence.storable import StorableText

# Full-text search uses the English configuration (stemming, stop words) for titles and messages.
SEARCH_CONFIG = "english"


class Base(DeclarativeBase):
    pass


class ChatSessionRow(Base):
    __tablename__ = "chat_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[str] = mapped_column(StorableText)
    title: Mapped[str] = mapped_column(StorableText, default="New chat")
    model_endpoint: Mapped[str | None] = mapped_column(StorableText)
    system_prompt: Mapped[str | None] = mapped_column(StorableText)
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Kept up to date by MessageRepository.append, so the history list never counts or scans messages.
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_message_preview: Mapped[str | None] = mapped_column(StorableText)
    # True once the owner renamed the chat: automatic titles never overwrite theirs.
    title_is_custom: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed(f"to_tsvector('{SEARCH_CONFIG}'::regconfig, title)", persisted=True), deferred=True
    )

    __table_args__ = (
        Index("ix_chat_session_owner_updated", "owner_id", text("updated_at DESC"), text("id DESC")),
        Index("ix_chat_session_search", "search_vector", postgresql_using="gin"),
    )


class ChatMessageRow(Base):
    __tablename__ = "chat_message"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_session.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(StorableText)
    content: Mapped[str] = mapped_column(StorableText)
    status: Mapped[str] = mapped_column(StorableText, default=MessageStatus.COMPLETE)
    client_message_id: Mapped[str | None] = mapped_column(StorableText, unique=True)
    model: Mapped[str | None] = mapped_column(StorableText)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(StorableText)
    # Came from a user's import: shown in their history, left out of every usage figure (its
    # timestamps and token counts are the file's word, not this app's record).
    imported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # A reply's tool steps, reasoning, sources and trace ids (services.reply_details), or None.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Replaced by an edit of the user's message: kept and shown collapsed, never sent to a model again.
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR,
        Computed(f"to_tsvector('{SEARCH_CONFIG}'::regconfig, content)", persisted=True),
        deferred=True,
    )

    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_chat_message_session_seq"),
        Index("ix_chat_message_search", "search_vector", postgresql_using="gin"),
        Index("ix_chat_message_created_at", "created_at"),
        CheckConstraint(f"role IN ({sql_list(Role)})", name="ck_chat_message_role"),
        CheckConstraint(f"status IN ({sql_list(MessageStatus)})", name="ck_chat_message_status"),
    )


class ChatRequestRow(Base):
    __tablename__ = "chat_request"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_session.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(StorableText)
    user_message_id: Mapped[int] = mapped_column(ForeignKey("chat_message.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(StorableText, default=RequestStatus.PENDING)
    partial_text: Mapped[str] = mapped_column(StorableText, default="", server_default="")
    error_message: Mapped[str | None] = mapped_column(StorableText)
    assistant_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_message.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkpointed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @hybrid_property
    def last_activity(self) -> datetime:
        """When the request last showed a sign of life: its last checkpoint, else its start, else
        its creation. A request silent for too long has lost its runner (TurnRunner.is_abandoned)."""
        return self.checkpointed_at or self.started_at or self.created_at

    @last_activity.inplace.expression
    @classmethod
    def _last_activity_expression(cls) -> ColumnElement[datetime]:
        return func.coalesce(cls.checkpointed_at, cls.started_at, cls.created_at)

    __table_args__ = (
        CheckConstraint(f"status IN ({sql_list(RequestStatus)})", name="ck_chat_request_status"),
        Index("ix_chat_request_session", "session_id"),
        # Per-user turn limits count a user's recent requests.
        Index("ix_chat_request_user_created", "user_id", "created_at"),
        # Recovery looks up unfinished requests across all sessions: a partial index stays tiny.
        Index(
            "ix_chat_request_open",
            "status",
            postgresql_where=text(
                f"status IN ({sql_list([RequestStatus.PENDING, RequestStatus.STREAMING])})"
            ),
        ),
    )


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("chat_message.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(StorableText)
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(StorableText)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # For a reply with an MLflow trace: the assessment this rating became there, and when it was
    # last sent (None: to send). services.trace_feedback sends them in the background.
    trace_assessment_id: Mapped[str | None] = mapped_column(StorableText)
    trace_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    trace_sync_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("message_id", "user_id", name="uq_feedback_message_user"),
        CheckConstraint("rating IN (-1, 1)", name="ck_feedback_rating"),
        Index("ix_feedback_rating_updated", "rating", text("updated_at DESC")),
        Index("ix_feedback_trace_unsynced", "updated_at", postgresql_where=text("trace_synced_at IS NULL")),
    )


class AdminAuditRow(Base):
    """One admin's read-only look at another user's conversation."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    admin_id: Mapped[str] = mapped_column(StorableText)
    owner_id: Mapped[str] = mapped_column(StorableText)
    session_id: Mapped[uuid.UUID] = mapped_column()
    session_title: Mapped[str] = mapped_column(StorableText)
    viewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_admin_audit_viewed_at", text("viewed_at DESC")),)
