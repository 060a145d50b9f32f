"""Initial schema: chat sessions, messages, requests and feedback.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "chat_session",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("model_endpoint", sa.Text(), nullable=True),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        _timestamp("archived_at", nullable=True),
        _timestamp("deleted_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index(
        "ix_chat_session_owner_updated",
        "chat_session",
        ["owner_id", sa.text("updated_at DESC"), sa.text("id DESC")],
    )

    op.create_table(
        "chat_message",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "session_id", sa.Uuid(), sa.ForeignKey("chat_session.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("client_message_id", sa.Text(), nullable=True, unique=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("time_to_first_token_ms", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        _timestamp("created_at"),
        sa.UniqueConstraint("session_id", "seq", name="uq_chat_message_session_seq"),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="ck_chat_message_role"),
        sa.CheckConstraint(
            "status IN ('complete', 'stopped', 'error', 'interrupted')", name="ck_chat_message_status"
        ),
    )

    op.create_table(
        "chat_request",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "session_id", sa.Uuid(), sa.ForeignKey("chat_session.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column(
            "user_message_id",
            sa.BigInteger(),
            sa.ForeignKey("chat_message.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("partial_text", sa.Text(), nullable=False, server_default=""),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "assistant_message_id",
            sa.BigInteger(),
            sa.ForeignKey("chat_message.id", ondelete="SET NULL"),
            nullable=True,
        ),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("checkpointed_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'streaming', 'complete', 'stopped', 'error', 'interrupted')",
            name="ck_chat_request_status",
        ),
    )
    op.create_index("ix_chat_request_session", "chat_request", ["session_id"])
    op.create_index(
        "ix_chat_request_open",
        "chat_request",
        ["status"],
        postgresql_where=sa.text("status IN ('pending', 'streaming')"),
    )

    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "message_id",
            sa.BigInteger(),
            sa.ForeignKey("chat_message.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("message_id", "user_id", name="uq_feedback_message_user"),
        sa.CheckConstraint("rating IN (-1, 1)", name="ck_feedback_rating"),
    )


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("chat_request")
    op.drop_table("chat_message")
    op.drop_index("ix_chat_session_owner_updated", table_name="chat_session")
    op.drop_table("chat_session")
