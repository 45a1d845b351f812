"""A message's events are found through their primary key (PostgreSQL)

Revision ID: 0023_event_key_by_message
Revises: 0022_receipts_through_parts
Create Date: 2026-11-24 11:00:00.000000

Every message gets four history entries on its way (accepted, sending, sent, delivered).
On PostgreSQL each wrote two index entries: the primary key `(id, message_id)` (a
partitioned table's key must hold its partition column) and `ix_message_events_message_id`
for reading a message's history. The key now starts with the message id, `(message_id,
id)`, and serves that reading itself, in the entries' order; the second index is dropped.
SQLite's events are a plain table keyed by their id, and keep the index.

On a large installation rebuilding the key takes time in proportion to the events: run
`tidings db upgrade` in a quiet hour.
"""

from __future__ import annotations

from alembic import op

revision = "0023_event_key_by_message"
down_revision = "0022_receipts_through_parts"
branch_labels = None
depends_on = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute("ALTER TABLE message_events DROP CONSTRAINT pk_message_events")
    op.execute(
        "ALTER TABLE message_events ADD CONSTRAINT pk_message_events PRIMARY KEY (message_id, id)"
    )
    op.execute("DROP INDEX ix_message_events_message_id")


def downgrade() -> None:
    if not _postgresql():
        return
    op.execute("CREATE INDEX ix_message_events_message_id ON message_events (message_id)")
    op.execute("ALTER TABLE message_events DROP CONSTRAINT pk_message_events")
    op.execute(
        "ALTER TABLE message_events ADD CONSTRAINT pk_message_events PRIMARY KEY (id, message_id)"
    )
