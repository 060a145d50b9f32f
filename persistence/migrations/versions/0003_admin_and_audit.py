"""Admin: an audit log of admins' read-only views, and indexes for usage figures and feedback lists.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("admin_id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("session_title", sa.Text(), nullable=False),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_admin_audit_viewed_at", "admin_audit", [sa.text("viewed_at DESC")])
    # Usage figures select messages by time; the quality list selects recent ratings.
    op.create_index("ix_chat_message_created_at", "chat_message", ["created_at"])
    op.create_index("ix_feedback_rating_updated", "feedback", ["rating", sa.text("updated_at DESC")])


def downgrade() -> None:
    op.drop_index("ix_feedback_rating_updated", table_name="feedback")
    op.drop_index("ix_chat_message_created_at", table_name="chat_message")
    op.drop_index("ix_admin_audit_viewed_at", table_name="admin_audit")
    op.drop_table("admin_audit")
