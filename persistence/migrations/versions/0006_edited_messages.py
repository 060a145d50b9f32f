"""A user's latest message can be edited and sent again: the message it replaces, and the replies to
it, stay in the chat marked as superseded (shown collapsed, left out of every later prompt).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "chat_message",
        sa.Column("superseded", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )


def downgrade() -> None:
    op.drop_column("chat_message", "superseded")
