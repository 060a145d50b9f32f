"""Imported messages are marked, so usage figures count only turns that happened in this app;
requests are indexed by user and time, for the per-user turn limits.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "chat_message",
        sa.Column("imported", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.create_index("ix_chat_request_user_created", "chat_request", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_request_user_created", table_name="chat_request")
    op.drop_column("chat_message", "imported")
