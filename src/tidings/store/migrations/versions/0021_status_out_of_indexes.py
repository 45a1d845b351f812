"""No index names a message's status: its three updates on the way stay in place

Revision ID: 0021_status_out_of_indexes
Revises: 0020_lean_accept_indexes
Create Date: 2026-11-23 21:00:00.000000

A message's row is updated as it becomes `sending`, `sent` and `delivered`. PostgreSQL
can rewrite a row within its page without touching any index (a HOT update) only when no
column that an index names, in its columns or its condition, has changed. Two indexes
named `status`, so each update wrote a new entry into every index of the table.

- `ix_messages_account_id_status` is dropped: listing by status reads the account's
  newest messages through `ix_messages_account_id_id`.
- `ix_messages_sent_expires_at` is dropped: the validity sweep reads its own worklist,
  `validity_watch`, filled here with the `sent` messages that have a validity period.
- PostgreSQL: the message partitions leave half of each new page free for the rewrites
  (fillfactor 50; pages written before keep their rows as they are).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

from tidings.store.partitions import FILLFACTOR, partitions_of

revision = "0021_status_out_of_indexes"
down_revision = "0020_lean_accept_indexes"
branch_labels = None
depends_on = None

_SENT_WITH_VALIDITY = text("status = 'sent' AND expires_at IS NOT NULL")


def _message_partitions() -> list[str]:
    """The partitions of `messages` (PostgreSQL, once partitioned), default included."""
    bind = op.get_bind()
    return partitions_of(bind, "messages") if bind.dialect.name == "postgresql" else []


def upgrade() -> None:
    op.create_table(
        "validity_watch",
        sa.Column("message_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_validity_watch")),
    )
    op.create_index(
        op.f("ix_validity_watch_expires_at"), "validity_watch", ["expires_at"], unique=False
    )
    op.execute(
        "INSERT INTO validity_watch (message_id, expires_at)"
        " SELECT id, expires_at FROM messages WHERE status = 'sent' AND expires_at IS NOT NULL"
    )
    op.drop_index("ix_messages_sent_expires_at", table_name="messages")
    op.drop_index("ix_messages_account_id_status", table_name="messages")
    for name in _message_partitions():
        op.execute(f"ALTER TABLE {name} SET (fillfactor = {FILLFACTOR['messages']})")


def downgrade() -> None:
    for name in _message_partitions():
        op.execute(f"ALTER TABLE {name} RESET (fillfactor)")
    op.create_index("ix_messages_account_id_status", "messages", ["account_id", "status"])
    op.create_index(
        "ix_messages_sent_expires_at",
        "messages",
        ["expires_at"],
        sqlite_where=_SENT_WITH_VALIDITY,
        postgresql_where=_SENT_WITH_VALIDITY,
    )
    op.drop_index(op.f("ix_validity_watch_expires_at"), table_name="validity_watch")
    op.drop_table("validity_watch")
