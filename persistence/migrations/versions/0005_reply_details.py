"""Replies keep their details (tool steps, reasoning, sources, request and trace ids) as one JSON
document; ratings of traced replies remember their MLflow assessment and whether it was sent.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chat_message", sa.Column("details", postgresql.JSONB(), nullable=True))
    op.add_column("feedback", sa.Column("trace_assessment_id", sa.Text(), nullable=True))
    op.add_column("feedback", sa.Column("trace_synced_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "feedback",
        sa.Column("trace_sync_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    # The background sender looks for ratings not yet sent: a partial index stays tiny.
    op.create_index(
        "ix_feedback_trace_unsynced",
        "feedback",
        ["updated_at"],
        postgresql_where=sa.text("trace_synced_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_trace_unsynced", table_name="feedback")
    op.drop_column("feedback", "trace_sync_attempts")
    op.drop_column("feedback", "trace_synced_at")
    op.drop_column("feedback", "trace_assessment_id")
    op.drop_column("chat_message", "details")
