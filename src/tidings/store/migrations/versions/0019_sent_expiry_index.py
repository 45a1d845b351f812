"""The validity sweep's own index: sent messages with a validity period, by when it ends

Revision ID: 0019_sent_expiry_index
Revises: 0018_connector_ref_indexes
Create Date: 2026-11-23 09:20:00.000000

Every 30 s the validity sweep looks for `sent` messages whose validity ended. No index
served it: SQLite scanned the whole messages table, holding the write lock while it did,
and PostgreSQL read all of `(account_id, status)`. A partial index holds only the messages
the sweep can find, so its cost no longer grows with the table.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0019_sent_expiry_index"
down_revision = "0018_connector_ref_indexes"
branch_labels = None
depends_on = None

_WHERE = text("status = 'sent' AND expires_at IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_messages_sent_expires_at",
        "messages",
        ["expires_at"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_messages_sent_expires_at", table_name="messages")
