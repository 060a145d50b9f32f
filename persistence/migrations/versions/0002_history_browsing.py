"""History browsing: per-session message count and last-message preview, custom-title flag,
full-text search vectors with GIN indexes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "chat_session", sa.Column("message_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("chat_session", sa.Column("last_message_preview", sa.Text(), nullable=True))
    op.add_column(
        "chat_session",
        sa.Column("title_is_custom", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.add_column(
        "chat_session",
        sa.Column(
            "search_vector",
            TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, title)", persisted=True),
            nullable=True,
        ),
    )
    op.add_column(
        "chat_message",
        sa.Column(
            "search_vector",
            TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, content)", persisted=True),
            nullable=True,
        ),
    )
    op.execute(
        """
        UPDATE chat_session s SET
            message_count = counts.n,
            last_message_preview = left(last.content, 200)
        FROM (
            SELECT session_id, count(*) AS n, max(seq) AS last_seq FROM chat_message GROUP BY session_id
        ) counts
        JOIN chat_message last ON last.session_id = counts.session_id AND last.seq = counts.last_seq
        WHERE s.id = counts.session_id
        """
    )
    op.create_index("ix_chat_message_search", "chat_message", ["search_vector"], postgresql_using="gin")
    op.create_index("ix_chat_session_search", "chat_session", ["search_vector"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_chat_session_search", table_name="chat_session")
    op.drop_index("ix_chat_message_search", table_name="chat_message")
    op.drop_column("chat_message", "search_vector")
    op.drop_column("chat_session", "search_vector")
    op.drop_column("chat_session", "title_is_custom")
    op.drop_column("chat_session", "last_message_preview")
    op.drop_column("chat_session", "message_count")
